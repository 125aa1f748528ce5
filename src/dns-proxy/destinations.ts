/**
 * The DNS proxy's destination list (EGRESS_DNS_PROXY_DESTINATION), the legacy haproxy proxy's
 * grammar, TCP only:
 *
 *   # comment                      whole-line and trailing comments, blank lines
 *   80   203.0.113.25              pod port 80 -> 203.0.113.25:80
 *   8080 db.example.com 5432       pod port 8080 -> port 5432 of every address of db.example.com
 *
 * Fields are separated by runs of spaces or tabs; CRLF line ends and a byte-order mark are
 * tolerated. The legacy script's messages are kept word for word where it had one ("Invalid
 * port: ...", "Proxy port ... already used", "Bad destination"), with the line and the text added.
 * Names follow the one grammar of src/config/hostname.ts (at least one dot, as the legacy
 * script required). Names resolve in the list's family: that of its addresses, else of
 * EGRESS_SOURCE when known, else IPv4 (the legacy proxy asked for A records).
 */
import { type Family, type IpAddress, familyName, parseUnicastAddress, withPort } from '../config/address.js';
import { forEachRuleLine, lineProblem } from '../config/list-lines.js';
import { parseHostName } from '../config/hostname.js';
import { type Problem, quote } from '../problem.js';

export type ProxyTarget = { kind: 'address'; address: IpAddress } | { kind: 'name'; name: string };

export interface ProxyRule {
  /** 1-based line number in the list, for messages. */
  line: number;
  /** The pod's port clients connect to. */
  port: number;
  target: ProxyTarget;
  targetPort: number;
}

export interface ProxyList {
  /** The family addresses are used and names resolved in. */
  family: Family;
  rules: ProxyRule[];
}

export interface ProxyParseOptions {
  /** How messages name the list: `EGRESS_DNS_PROXY_DESTINATION`, or `EGRESS_DNS_PROXY_DESTINATION_FILE /path`. */
  origin: string;
  /** EGRESS_SOURCE's family, when known. */
  family?: Family;
}

const FIELD_SEPARATOR = /[ \t]+/;
const SHAPE = `'<port> <address or name> [<remote port>]'`;
const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

/** Digits stay readable as they are; anything longer is quoted and cut. */
const portText = (text: string): string => (/^[0-9]{1,20}$/.test(text) ? text : quote(text, 20));

function parsePortField(text: string): { port: number } | { error: string } {
  if (!/^[0-9]+$/.test(text)) return { error: `Bad destination: port ${quote(text)} is not a number` };
  const value = Number(text);
  if (value < 1 || value > 65535) return { error: `Invalid port: ${portText(text)}, must be in the range 1 to 65535` };
  if (text.startsWith('0')) return { error: `Invalid port: ${portText(text)}, must be in the range 1 to 65535, without leading zeros` };
  return { port: value };
}

function parseTarget(text: string): { target: ProxyTarget } | { error: string } {
  const address = parseUnicastAddress(text);
  if (address.ok) return { target: { kind: 'address', address: address.address } };
  const name = parseHostName(text);
  if (name.ok) return { target: { kind: 'name', name: name.host.name } };
  // Digits and dots, or colons: meant as an address, so the address's reason is the useful one.
  if (/^[0-9.]+$/.test(text) || text.includes(':')) return { error: `Bad destination: invalid address ${quote(text)}: ${address.reason}` };
  return { error: `Bad destination: invalid name ${quote(text)}: ${name.reason}` };
}

type LineResult = { rule: ProxyRule } | { error: string };

function parseLine(text: string, line: number): LineResult {
  const fields = text.split(FIELD_SEPARATOR);
  if (fields.length >= 3 && PROTOCOLS.has(fields[1]!.toLowerCase())) {
    return { error: `Bad destination: no protocol field here (${quote(fields[1]!)}); the DNS proxy relays TCP, write ${SHAPE}` };
  }
  if (fields.length < 2 || fields.length > 3) {
    return { error: `Bad destination: expected ${SHAPE}, got ${fields.length} field${fields.length === 1 ? '' : 's'}` };
  }
  const [portField, targetField, remoteField] = fields as [string, string, string?];
  const port = parsePortField(portField);
  if ('error' in port) return port;
  const target = parseTarget(targetField);
  if ('error' in target) return target;
  let targetPort = port.port;
  if (remoteField !== undefined) {
    const remote = parsePortField(remoteField);
    if ('error' in remote) return { error: remote.error.replace('Bad destination: port', 'Bad destination: remote port') };
    targetPort = remote.port;
  }
  return { rule: { line, port: port.port, target: target.target, targetPort } };
}

/** Parses a whole list, reporting every line's problem rather than stopping at the first. */
export function parseProxyDestinations(source: string, options: ProxyParseOptions): { list: ProxyList; problems: Problem[] } {
  const problems: Problem[] = [];
  const rules: ProxyRule[] = [];
  const firstUse = new Map<number, number>();
  let family = options.family;
  let familyLine: number | undefined;
  forEachRuleLine(source, (entry) => {
    const { line, text } = entry;
    const report = (message: string) => problems.push(lineProblem(options.origin, entry, message));

    const parsed = parseLine(text, line);
    if ('error' in parsed) {
      report(parsed.error);
      return;
    }
    const { rule } = parsed;
    if (rule.target.kind === 'address') {
      const addressFamily = rule.target.address.family;
      if (family === undefined) {
        family = addressFamily;
        familyLine = line;
      } else if (addressFamily !== family) {
        const expected = familyLine === undefined ? 'EGRESS_SOURCE' : `line ${familyLine}`;
        report(`${familyName(addressFamily)} destination ${rule.target.address.text} does not match the ${familyName(family)} family of ${expected}`);
        return;
      }
    }
    const earlier = firstUse.get(rule.port);
    if (earlier !== undefined) {
      report(`Proxy port ${rule.port} already used, must be unique for each destination (first used on line ${earlier})`);
      return;
    }
    firstUse.set(rule.port, line);
    rules.push(rule);
  });
  return { list: { family: family ?? 4, rules }, problems };
}

export const targetText = (target: ProxyTarget): string => (target.kind === 'name' ? target.name : target.address.text);

/** The names a list needs resolved, each once. */
export function proxyNames(list: ProxyList): string[] {
  return [...new Set(list.rules.flatMap((r) => (r.target.kind === 'name' ? [r.target.name] : [])))];
}

/** One line per rule, as unit-test mode and `validate --dns-proxy` print what they understood. */
export function describeProxyRules(list: ProxyList): string[] {
  return list.rules.map((r) => {
    if (r.target.kind === 'address') return `line ${r.line}: tcp port ${r.port} -> ${withPort(r.target.address, r.targetPort)}`;
    return `line ${r.line}: tcp port ${r.port} -> ${r.target.name}:${r.targetPort} (every ${familyName(list.family)} address of the name)`;
  });
}

/** The closing line of a listing: how many rules, how many by name, the family. */
export function summarizeProxyList(origin: string, list: ProxyList): string {
  const names = list.rules.filter((r) => r.target.kind === 'name').length;
  const count = `${list.rules.length} rule${list.rules.length === 1 ? '' : 's'}`;
  return `${origin}: OK, ${count}${names > 0 ? ` (${names} by name)` : ''}, ${familyName(list.family)}, TCP`;
}
