/**
 * The HTTP proxy's access list (EGRESS_HTTP_PROXY_DESTINATION), as the legacy squid container
 * read it, one rule per line, first match wins:
 *
 *   # comments, blank lines and trailing comments
 *   !*.bad.example.com      deny this name and every name under it
 *   *.example.com           allow example.com and every name under it
 *   api.example.net         allow this name only
 *   192.168.0.0/16          allow addresses in this network, literal or resolved from a name
 *   !fe80::/10              IPv6 works the same
 *   *                       allow everything else; must be the last rule
 *
 * Without `*`, everything no rule allows is denied. Names follow src/config/hostname.ts (so
 * single-label names such as `localhost` are refused here, where squid took them); addresses and
 * networks are read by src/config/address.ts.
 */
import { type Network, networkText, parseNetwork } from '../config/address.js';
import { parseHostName } from '../config/hostname.js';
import { forEachRuleLine, lineProblem } from '../config/list-lines.js';
import { type Problem, formatProblem, problem, quote } from '../problem.js';

export type RuleAction = 'allow' | 'deny';

export type RuleMatch =
  /** `example.com` (subdomains false) or `*.example.com` (subdomains true); name in lower case. */
  | { kind: 'name'; name: string; subdomains: boolean }
  | { kind: 'network'; network: Network };

export interface ProxyRule {
  /** 1-based line in the list, for messages and logs. */
  line: number;
  action: RuleAction;
  match: RuleMatch;
}

export interface ProxyRules {
  rules: ProxyRule[];
  /** Set when the list ends with `*`: what no rule matched is allowed (else it is denied). */
  wildcardLine?: number;
}

export interface ParsedProxyRules {
  rules: ProxyRules;
  problems: Problem[];
  /** Lines that are accepted but probably not what was meant (a network with host bits set). */
  warnings: Problem[];
}


/** Text an address or network is written as: digits and dots, or anything with ':' or '/'. */
const looksLikeAddress = (text: string): boolean => /^[0-9.]+$/.test(text) || text.includes(':') || text.includes('/');

type LineResult = { ok: true; match: RuleMatch; warning?: string } | { ok: false; message: string };

function parseDestination(text: string): LineResult {
  if (/[ \t]/.test(text)) return { ok: false, message: 'bad destination: one name, address or network per line' };
  if (text.startsWith('*.')) {
    const host = parseHostName(text.slice(2));
    if (!host.ok) return { ok: false, message: `invalid name ${quote(text.slice(2))} after '*.': ${host.reason}` };
    return { ok: true, match: { kind: 'name', name: host.host.name, subdomains: true } };
  }
  if (text.includes('*')) {
    return { ok: false, message: "'*' is allowed alone (everything else) or as '*.' in front of a name, nowhere else" };
  }
  if (looksLikeAddress(text)) {
    const parsed = parseNetwork(text);
    if (!parsed.ok) return { ok: false, message: `invalid address or network ${quote(text)}: ${parsed.reason}` };
    const { network } = parsed;
    const warning = parsed.hostBitsSet
      ? `${text} has host bits set; it is read as the network ${networkText(network)}, as squid read it`
      : undefined;
    return { ok: true, match: { kind: 'network', network }, warning };
  }
  const host = parseHostName(text);
  if (!host.ok) return { ok: false, message: `invalid name ${quote(text)}: ${host.reason}` };
  return { ok: true, match: { kind: 'name', name: host.host.name, subdomains: false } };
}

/**
 * Parses a whole list and reports every problem with its line, not only the first, so that a
 * ConfigMap can be fixed in one edit.
 */
export function parseProxyRules(source: string, origin: string): ParsedProxyRules {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const rules: ProxyRules = { rules: [] };
  let seenRule = false;

  forEachRuleLine(source, (entry) => {
    const { line, text } = entry;
    seenRule = true;
    const where = `${origin} line ${line}`;
    const report = (message: string) => problems.push(lineProblem(origin, entry, message));

    if (rules.wildcardLine !== undefined) {
      report(`a rule follows '*' on line ${rules.wildcardLine}; '*' (everything else) must be the last rule`);
      return;
    }
    if (text === '*') {
      rules.wildcardLine = line;
      return;
    }
    const deny = text.startsWith('!');
    const destination = deny ? text.slice(1) : text;
    if (destination === '*') {
      report("'!*' is not a rule: without '*', everything no rule allows is denied already");
      return;
    }
    if (destination === '') {
      report("'!' needs a destination right after it");
      return;
    }
    const parsed = parseDestination(destination);
    if (!parsed.ok) {
      report(parsed.message);
      return;
    }
    if (parsed.warning) warnings.push({ ...lineProblem(origin, entry, parsed.warning), where });
    rules.rules.push({ line, action: deny ? 'deny' : 'allow', match: parsed.match });
  });
  if (!seenRule) problems.push(problem('config', origin, 'has no rules, only comments or blank lines'));
  return { rules, problems, warnings };
}

/** A rule's destination as the list would write it. */
export function matchText(match: RuleMatch): string {
  if (match.kind === 'name') return match.subdomains ? `*.${match.name}` : match.name;
  return networkText(match.network);
}

function explain(match: RuleMatch): string {
  if (match.kind === 'name') return match.subdomains ? 'the name and every name under it' : 'this name only';
  return 'addresses in the request, or resolved from a requested name';
}

/** One line per rule, as `validate --http-proxy` and unit-test mode print what they understood. */
export function describeProxyRules(list: ProxyRules): string[] {
  const lines = list.rules.map((r) => `line ${r.line}: ${r.action} ${matchText(r.match)} (${explain(r.match)})`);
  if (list.wildcardLine !== undefined) lines.push(`line ${list.wildcardLine}: allow everything else (*)`);
  return lines;
}

/** The verdict's summary line: how many rules, and what happens to the rest. */
export function summarizeProxyRules(list: ProxyRules): string {
  const count = list.rules.length + (list.wildcardLine === undefined ? 0 : 1);
  const rest = list.wildcardLine === undefined ? 'everything else is denied' : 'everything else is allowed';
  return `${count} rule${count === 1 ? '' : 's'}, ${rest}`;
}

/** What `validate --http-proxy` and unit-test mode print: each rule, the warnings, and a verdict. */
export function rulesReport(origin: string, list: ProxyRules, warnings: readonly Problem[]): string {
  const lines = describeProxyRules(list);
  for (const warning of warnings) lines.push(`warning: ${formatProblem(warning)}`);
  lines.push(`${origin}: OK, ${summarizeProxyRules(list)}`);
  return `${lines.join('\n')}\n`;
}
