/**
 * The destination list grammar, shared by the entrypoint, `validate` and `migrate`.
 *
 *   # comment                      whole-line and trailing comments, blank lines
 *   80   tcp 203.0.113.25          local port 80/tcp -> 203.0.113.25:80
 *   8080 TCP 203.0.113.26 80       local port 8080/tcp -> 203.0.113.26:80
 *   5432 tcp db.example.com        local port 5432/tcp -> every address of db.example.com, port 5432
 *   203.0.113.27                   fallback: any other traffic -> 203.0.113.27, last rule only
 *
 * Fields are separated by runs of spaces or tabs; CRLF line ends are tolerated. A DNS name
 * (./hostname.ts) stands wherever an address may; it has no family until it is resolved, so the
 * family checks apply to addresses only.
 */
import { type Family, type IpAddress, familyName, parseUnicastAddress } from './address.js';
import { type HostName, parseHostName } from './hostname.js';
import { type Problem, quote } from '../problem.js';
import { forEachRuleLine, lineProblem } from './list-lines.js';

export const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Where a rule sends connections: an address, or a name resolved while the router runs. */
export type Destination = IpAddress | HostName;

export const isHostName = (destination: Destination): destination is HostName => 'name' in destination;

/** The destination as the list would write it (IPv6 without brackets). */
export const destinationText = (destination: Destination): string => (isHostName(destination) ? destination.name : destination.text);

/** The destination with a port, as messages and `validate` print it: brackets around IPv6. */
export function destinationWithPort(destination: Destination, port: number): string {
  if (isHostName(destination)) return `${destination.name}:${port}`;
  return destination.family === 6 ? `[${destination.text}]:${port}` : `${destination.text}:${port}`;
}

export interface Redirect {
  /** 1-based line number in the list, for messages. */
  line: number;
  protocol: Protocol;
  port: number;
  target: Destination;
  targetPort: number;
}

export interface DestinationList {
  /** The family of the source, else of the first address; undefined for a list without addresses. */
  family: Family | undefined;
  redirects: Redirect[];
  fallback?: { line: number; target: Destination };
}

/** Whether any rule names a destination by name, which only a resolving router can serve. */
export const hasNames = (list: DestinationList): boolean =>
  list.redirects.some((r) => isHostName(r.target)) || (list.fallback !== undefined && isHostName(list.fallback.target));

export interface ParseOptions {
  /** How messages name the list: `EGRESS_DESTINATION`, or `EGRESS_DESTINATION_FILE /path`. */
  origin: string;
  /** The source address's family; without it every rule must share the first rule's family. */
  family?: Family;
}

export interface ParsedList {
  list: DestinationList;
  problems: Problem[];
}

const FIELD_SEPARATOR = /[ \t]+/;

/** A port: 1-65535 in plain ASCII decimal, without sign, exponent, spaces or leading zeros. */
export function parsePort(text: string): number | undefined {
  if (!/^[1-9][0-9]{0,4}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function parseProtocol(text: string): Protocol | undefined {
  const lower = text.toLowerCase();
  return (PROTOCOLS as readonly string[]).includes(lower) ? (lower as Protocol) : undefined;
}


/** The rule text of a line, shared with the other lists (./list-lines.ts). */
export { ruleText } from './list-lines.js';

type LineResult =
  | { kind: 'redirect'; rule: Redirect }
  | { kind: 'fallback'; target: Destination }
  | { kind: 'error'; message: string };

/** A destination, or why the text is none, worded as the address or the name it looks like. */
type DestinationResult = { ok: true; destination: Destination } | { ok: false; what: 'address' | 'name'; reason: string };

/**
 * Whether text that is neither a valid address nor a valid name was meant as a name: no colon,
 * and a last label that starts with a letter. `999.1.1.1`, `010.1.1.1`, `203.0.113.8e1` and
 * `2001:db8::x` stay invalid addresses with the address's reason, as they were before names.
 */
function meantAsName(text: string): boolean {
  if (text.includes(':')) return false;
  const labels = (text.endsWith('.') ? text.slice(0, -1) : text).split('.');
  return /^[A-Za-z]/.test(labels[labels.length - 1]!);
}

export function parseDestination(text: string): DestinationResult {
  // An IPv4 address is digits and dots and an IPv6 address has a colon: anything else skips
  // ip-num, whose refusals are exceptions, costly by the hundred thousand.
  const maybeAddress = text.includes(':') || !/[^0-9.]/.test(text);
  if (!maybeAddress) {
    const host = parseHostName(text);
    if (host.ok) return { ok: true, destination: host.host };
  }
  const address = parseUnicastAddress(text);
  if (address.ok) return { ok: true, destination: address.address };
  const host = parseHostName(text);
  if (host.ok) return { ok: true, destination: host.host };
  return meantAsName(text) ? { ok: false, what: 'name', reason: host.reason } : { ok: false, what: 'address', reason: address.reason };
}

/**
 * Parses destinations once per distinct text: a long list names the same few destinations over
 * and over, and ip-num's parse is the costliest step of a line.
 */
function memoizedDestinationParser(): (text: string) => DestinationResult {
  const seen = new Map<string, DestinationResult>();
  return (text) => {
    let result = seen.get(text);
    if (result === undefined) {
      result = parseDestination(text);
      seen.set(text, result);
    }
    return result;
  };
}

function parseLine(text: string, line: number, parseTarget: (text: string) => DestinationResult): LineResult {
  const fields = text.split(FIELD_SEPARATOR);
  if (fields.length === 1) {
    const target = parseTarget(fields[0]!);
    if (!target.ok) return { kind: 'error', message: `invalid fallback ${target.what} ${quote(fields[0]!)}: ${target.reason}` };
    return { kind: 'fallback', target: target.destination };
  }
  if (fields.length !== 3 && fields.length !== 4) {
    return {
      kind: 'error',
      message: `expected '<port> <protocol> <address> [<remote port>]' or a fallback '<address>', got ${fields.length} fields`,
    };
  }
  const [portText, protocolText, addressText, remotePortText] = fields as [string, string, string, string?];
  const port = parsePort(portText);
  if (port === undefined) return { kind: 'error', message: `invalid port ${quote(portText)}, must be a number from 1 to 65535` };
  const protocol = parseProtocol(protocolText);
  if (!protocol) return { kind: 'error', message: `invalid protocol ${quote(protocolText)}, must be tcp, udp or sctp` };
  const target = parseTarget(addressText);
  if (!target.ok) return { kind: 'error', message: `invalid ${target.what} ${quote(addressText)}: ${target.reason}` };
  let targetPort = port;
  if (remotePortText !== undefined) {
    const parsed = parsePort(remotePortText);
    if (parsed === undefined) {
      return { kind: 'error', message: `invalid remote port ${quote(remotePortText)}, must be a number from 1 to 65535` };
    }
    targetPort = parsed;
  }
  return { kind: 'redirect', rule: { line, protocol, port, target: target.destination, targetPort } };
}

/**
 * Parses a whole list, reporting every problem with its line rather than stopping at the first,
 * so that an administrator can fix a ConfigMap in one edit.
 */
export function parseDestinations(source: string, options: ParseOptions): ParsedList {
  const problems: Problem[] = [];
  const list: DestinationList = { family: options.family, redirects: [] };
  // Keyed on port * 4 + protocol index: a number, not a string to build for every line.
  const firstUse = new Map<number, number>();
  const parseTarget = memoizedDestinationParser();
  let familyLine: number | undefined;
  forEachRuleLine(source, (rule) => {
    const { line, text } = rule;
    const report = (message: string) => problems.push(lineProblem(options.origin, rule, message));

    if (list.fallback) {
      report(`a rule follows the fallback address on line ${list.fallback.line}; the fallback must be the last rule`);
      return;
    }
    const parsed = parseLine(text, line, parseTarget);
    if (parsed.kind === 'error') {
      report(parsed.message);
      return;
    }
    const target = parsed.kind === 'redirect' ? parsed.rule.target : parsed.target;
    // A name has no family of its own: the resolver asks for records of the source's family.
    const family = isHostName(target) ? undefined : target.family;
    if (family !== undefined && list.family === undefined) {
      list.family = family;
      familyLine = line;
    } else if (family !== undefined && family !== list.family) {
      const expected = familyLine === undefined ? 'the source address' : `line ${familyLine}`;
      report(`${familyName(family)} destination ${destinationText(target)} does not match the ${familyName(list.family!)} family of ${expected}`);
      return;
    }
    if (parsed.kind === 'fallback') {
      list.fallback = { line, target };
      return;
    }
    const key = parsed.rule.port * 4 + PROTOCOLS.indexOf(parsed.rule.protocol);
    const earlier = firstUse.get(key);
    if (earlier !== undefined) {
      report(`local port ${parsed.rule.port}/${parsed.rule.protocol} is already used on line ${earlier}; each port and protocol may be redirected once`);
      return;
    }
    firstUse.set(key, line);
    list.redirects.push(parsed.rule);
  });
  return { list, problems };
}

/** One line per rule, as `validate` prints what it understood. */
export function describeRules(list: DestinationList): string[] {
  const lines = list.redirects.map((r) => `line ${r.line}: ${r.protocol} port ${r.port} -> ${destinationWithPort(r.target, r.targetPort)}`);
  if (list.fallback) lines.push(`line ${list.fallback.line}: fallback, everything else -> ${destinationText(list.fallback.target)}`);
  return lines;
}
