/**
 * Resolving destination names through the pod's nameservers, with the records' TTLs: the one
 * resolver the redirect engine, the DNS proxy and the HTTP proxy share. Node's own resolver
 * (c-ares) does the work; this module only points it at the nameservers of the pod's resolv.conf
 * and turns its answers and errors into values.
 */
import { Resolver } from 'node:dns/promises';
import type { Family, IpAddress } from '../config/address.js';
import { parseUnicastAddress } from '../config/address.js';
import type { ReadFile } from '../config/config.js';
import { DEFAULT_RESOLV_CONF, type ResolvConf, parseResolvConf } from './resolv-conf.js';

export type Resolution =
  /** Every usable address of the name, in the order the server gave them, and the smallest TTL. */
  | { ok: true; addresses: IpAddress[]; ttlSeconds: number }
  /** `nxdomain` and `nodata` are answers (the name has no such records); `failure` is not. */
  | { ok: false; kind: 'nxdomain' | 'nodata' | 'failure'; reason: string };

export interface NameResolver {
  resolve(name: string, family: Family): Promise<Resolution>;
}

const ANSWER_ERRORS: Record<string, 'nxdomain' | 'nodata'> = { ENOTFOUND: 'nxdomain', ENODATA: 'nodata' };

/** Keeps only addresses a destination may have: no loopback, multicast, unspecified, mapped. */
function usable(records: { address: string; ttl: number }[]): { addresses: IpAddress[]; ttlSeconds: number } {
  const addresses: IpAddress[] = [];
  for (const record of records) {
    const parsed = parseUnicastAddress(record.address);
    if (parsed.ok && !addresses.some((a) => a.text === parsed.address.text)) addresses.push(parsed.address);
  }
  const ttlSeconds = records.length > 0 ? Math.min(...records.map((r) => r.ttl)) : 0;
  return { addresses, ttlSeconds };
}

export function resolverFor(conf: ResolvConf): NameResolver {
  const resolver = new Resolver({ timeout: conf.timeoutMs, tries: conf.attempts });
  if (conf.nameservers.length > 0) resolver.setServers(conf.nameservers.map((n) => n.text));
  return {
    async resolve(name, family) {
      try {
        const records = family === 4 ? await resolver.resolve4(name, { ttl: true }) : await resolver.resolve6(name, { ttl: true });
        const { addresses, ttlSeconds } = usable(records);
        if (addresses.length === 0) return { ok: false, kind: 'nodata', reason: `no usable IPv${family} address (only ${records.map((r) => r.address).join(', ')})` };
        return { ok: true, addresses, ttlSeconds };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? '';
        const kind = ANSWER_ERRORS[code] ?? 'failure';
        const reason = kind === 'nxdomain' ? 'no such name' : kind === 'nodata' ? `no ${family === 4 ? 'A' : 'AAAA'} records` : `lookup failed: ${code || (error as Error).message}`;
        return { ok: false, kind, reason };
      }
    },
  };
}

/** The resolver of the pod: the nameservers of its resolv.conf (or of `path`). */
export function podResolver(readFile: ReadFile, path = DEFAULT_RESOLV_CONF): { resolver: NameResolver; conf: ResolvConf } {
  const read = readFile(path);
  const conf = parseResolvConf(read.ok ? read.text : '');
  return { resolver: resolverFor(conf), conf };
}
