/**
 * From a request's target to the addresses the proxy may connect to: the decision of decide.ts,
 * with the name looked up only when the decision depends on its addresses (or to connect).
 * Answers synchronously when it can (a literal address, a denied name, a cached name), so that
 * the common request costs no promise.
 */
import { allowedAddresses, decideAddress, decideName } from './decide.js';
import type { NameCache, NameLookup, ResolvedAddress } from './names.js';
import type { ProxyRules } from './rules.js';
import type { Target } from './target.js';

export type Access =
  | { ok: true; addresses: ResolvedAddress[]; line: number | undefined }
  | { ok: false; status: 403 | 502; reason: string; line: number | undefined };

function denied(line: number | undefined, what: string): Access {
  return { ok: false, status: 403, line, reason: line === undefined ? `${what} is not allowed by any rule` : `${what} is denied by rule line ${line}` };
}

export class AccessControl {
  constructor(
    private rules: ProxyRules,
    private readonly names: NameCache,
  ) {}

  /** Takes effect for requests decided from now on; requests already decided keep their verdict. */
  update(rules: ProxyRules): void {
    this.rules = rules;
  }

  check(target: Target): Access | Promise<Access> {
    const rules = this.rules;
    const host = target.host;
    if (host.kind === 'address') {
      const verdict = decideAddress(rules, undefined, host.address);
      return verdict.action === 'allow' ? { ok: true, addresses: [host.address], line: verdict.line } : denied(verdict.line, host.address.text);
    }
    const early = decideName(rules, host.name);
    if (!early.dependsOnAddresses && early.verdict.action === 'deny') return denied(early.verdict.line, host.name);
    const settle = (lookup: NameLookup): Access => {
      if (!lookup.ok) return { ok: false, status: 502, line: undefined, reason: `cannot resolve ${host.name}: ${lookup.reason}` };
      if (!early.dependsOnAddresses) return { ok: true, addresses: lookup.addresses, line: early.verdict.line };
      const { allowed, allowedBy, refusedBy } = allowedAddresses(rules, host.name, lookup.addresses);
      if (allowed.length === 0) return denied(refusedBy?.line, `${host.name} (${lookup.addresses.map((a) => a.text).join(', ')})`);
      return { ok: true, addresses: allowed, line: allowedBy?.line };
    };
    const cached = this.names.cached(host.name);
    return cached ? settle(cached) : this.names.lookup(host.name).then(settle);
  }
}
