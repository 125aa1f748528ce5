/**
 * Requested names to addresses for the proxy: both families through the pod's resolver, kept for
 * their TTL (as squid's ipcache does), so that a keep-alive client sending thousands of requests
 * to one name costs one lookup per TTL, and concurrent requests for a name share one lookup.
 */
import { type Family, type IpAddress, addressValue } from '../config/address.js';
import type { NameResolver, Resolution } from '../names/resolver.js';
import type { CheckedAddress } from './decide.js';

export type ResolvedAddress = IpAddress & CheckedAddress;

export type NameLookup = { ok: true; addresses: ResolvedAddress[] } | { ok: false; reason: string };

interface Entry {
  lookup: NameLookup;
  expires: number;
}

/** Bounds on how long an answer is kept, whatever its TTL: at least a second, at most an hour. */
const MIN_TTL_MS = 1000;
const MAX_TTL_MS = 3_600_000;
/** "No such name" and "no addresses" are answers too, kept briefly (squid keeps them a minute). */
const NEGATIVE_TTL_MS = 5000;

const withValue = (address: IpAddress): ResolvedAddress => ({ ...address, value: addressValue(address) });

/** IPv4 first, then IPv6, each in the server's order; a family that failed is left out. */
function combine(v4: Resolution, v6: Resolution): { lookup: NameLookup; ttlMs: number } {
  const answers = [v4, v6].filter((r): r is Extract<Resolution, { ok: true }> => r.ok);
  if (answers.length > 0) {
    const ttl = Math.min(...answers.map((a) => a.ttlSeconds)) * 1000;
    const addresses = answers.flatMap((a) => a.addresses.map(withValue));
    return { lookup: { ok: true, addresses }, ttlMs: Math.min(Math.max(ttl, MIN_TTL_MS), MAX_TTL_MS) };
  }
  const failures = [v4, v6] as Extract<Resolution, { ok: false }>[];
  const failed = failures.find((f) => f.kind === 'failure');
  if (failed) return { lookup: { ok: false, reason: failed.reason }, ttlMs: 0 };
  const reason = failures.every((f) => f.kind === 'nxdomain') ? 'no such name' : 'the name has no IPv4 or IPv6 address';
  return { lookup: { ok: false, reason }, ttlMs: NEGATIVE_TTL_MS };
}

export class NameCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<NameLookup>>();

  constructor(
    private readonly resolver: NameResolver,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  /** A fresh cached answer, without waiting: the common case of a request. */
  cached(name: string): NameLookup | undefined {
    const entry = this.entries.get(name);
    if (entry === undefined) return undefined;
    if (entry.expires > this.now()) return entry.lookup;
    this.entries.delete(name);
    return undefined;
  }

  lookup(name: string): Promise<NameLookup> {
    const hit = this.cached(name);
    if (hit) return Promise.resolve(hit);
    let pending = this.pending.get(name);
    if (!pending) {
      pending = this.resolve(name).finally(() => this.pending.delete(name));
      this.pending.set(name, pending);
    }
    return pending;
  }

  private async resolve(name: string): Promise<NameLookup> {
    const families: Family[] = [4, 6];
    const [v4, v6] = (await Promise.all(families.map((family) => this.resolver.resolve(name, family)))) as [Resolution, Resolution];
    const { lookup, ttlMs } = combine(v4, v6);
    if (ttlMs > 0) {
      // The oldest entry goes first: a Map keeps insertion order.
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(name, { lookup, expires: this.now() + ttlMs });
    }
    return lookup;
  }
}
