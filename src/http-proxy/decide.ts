/**
 * The access decision, pure. Squid, as the legacy container configured it, walked the rules in
 * order for each request: a name rule (`dstdomain`) looked at the requested name, an address rule
 * (`dst`) at the literal address or at the addresses the name resolved to, and the first rule
 * that matched decided. Squid then connected to any address of the name, even one an address
 * rule would have refused. Here the walk is made for each address:
 *
 * - a name rule matches by name (so it decides the same for every address of the name);
 * - an address rule matches an address inside its network;
 * - an address is allowed when the first rule that matches it allows (or, when none does, when
 *   the list ends with `*`);
 * - the proxy connects only to allowed addresses, the very ones checked, never after a second
 *   lookup.
 *
 * When a name rule (or the end of the list) decides before any address rule could say otherwise,
 * the verdict does not depend on the addresses: a denied name gets its 403 without a lookup.
 */
import type { Family } from '../config/address.js';
import { inNetwork } from '../config/address.js';
import type { ProxyRule, ProxyRules, RuleAction } from './rules.js';

export interface Verdict {
  action: RuleAction;
  /** The line of the rule that decided; undefined when no rule matched and the list has no `*`. */
  line: number | undefined;
}

/** An address with its numeric value, computed once where it was parsed or resolved. */
export interface CheckedAddress {
  family: Family;
  value: bigint;
}

export type NameDecision = { dependsOnAddresses: false; verdict: Verdict } | { dependsOnAddresses: true };

/** Lower case, no trailing dot: the form names are compared in. */
export const normalizeName = (name: string): string => (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();

function nameMatches(rule: ProxyRule, name: string): boolean {
  if (rule.match.kind !== 'name') return false;
  const wanted = rule.match.name;
  if (name === wanted) return true;
  return rule.match.subdomains && name.length > wanted.length && name.endsWith(wanted) && name[name.length - wanted.length - 1] === '.';
}

/** What no rule matched: allowed by a final `*`, else denied. */
const otherwise = (list: ProxyRules): Verdict =>
  list.wildcardLine === undefined ? { action: 'deny', line: undefined } : { action: 'allow', line: list.wildcardLine };

/**
 * The verdict for a requested name before it is resolved, when the addresses cannot change it:
 * every address rule met on the way to the deciding rule has that rule's action.
 * `name` must be normalized (normalizeName).
 */
export function decideName(list: ProxyRules, name: string): NameDecision {
  let allowSeen = false;
  let denySeen = false;
  const settle = (verdict: Verdict): NameDecision =>
    (verdict.action === 'allow' ? denySeen : allowSeen) ? { dependsOnAddresses: true } : { dependsOnAddresses: false, verdict };
  for (const rule of list.rules) {
    if (rule.match.kind === 'network') {
      if (rule.action === 'allow') allowSeen = true;
      else denySeen = true;
    } else if (nameMatches(rule, name)) {
      return settle({ action: rule.action, line: rule.line });
    }
  }
  return settle(otherwise(list));
}

/**
 * The verdict for one address: a literal one from the request (`name` undefined), or one that the
 * requested `name` (normalized) resolved to.
 */
export function decideAddress(list: ProxyRules, name: string | undefined, address: CheckedAddress): Verdict {
  for (const rule of list.rules) {
    const matches =
      rule.match.kind === 'network' ? inNetwork(rule.match.network, address.family, address.value) : name !== undefined && nameMatches(rule, name);
    if (matches) return { action: rule.action, line: rule.line };
  }
  return otherwise(list);
}

/**
 * The addresses of `name` the proxy may connect to, in the order given, and the verdict that
 * refused the first refused one (for the log and the 403 when none is allowed).
 */
export function allowedAddresses<A extends CheckedAddress>(
  list: ProxyRules,
  name: string,
  addresses: readonly A[],
): { allowed: A[]; allowedBy: Verdict | undefined; refusedBy: Verdict | undefined } {
  const allowed: A[] = [];
  let allowedBy: Verdict | undefined;
  let refusedBy: Verdict | undefined;
  for (const address of addresses) {
    const verdict = decideAddress(list, name, address);
    if (verdict.action === 'allow') {
      allowed.push(address);
      allowedBy ??= verdict;
    } else refusedBy ??= verdict;
  }
  return { allowed, allowedBy, refusedBy };
}
