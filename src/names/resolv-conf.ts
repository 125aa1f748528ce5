/**
 * The pod's resolver configuration (resolv.conf), as the kubelet writes it: the nameservers and
 * the timeout options. Pure. Search domains are not used: destination names are resolved as
 * written (the legacy haproxy proxy did the same), so `db.example.com` never turns into
 * `db.example.com.my-namespace.svc.cluster.local`.
 */
import { type IpAddress, parseUnicastAddress } from '../config/address.js';

export interface ResolvConf {
  nameservers: IpAddress[];
  /** Per-query timeout, from `options timeout:N` (glibc's default 5 s). */
  timeoutMs: number;
  /** Tries per nameserver, from `options attempts:N` (glibc's default 2). */
  attempts: number;
}

/** Where the pod's resolver configuration lives; tests and unusual images may point elsewhere. */
export const DEFAULT_RESOLV_CONF = '/etc/resolv.conf';

function option(options: string[], name: string, fallback: number, max: number): number {
  const found = options.find((o) => o.startsWith(`${name}:`));
  const value = found ? Number(found.slice(name.length + 1)) : NaN;
  return Number.isInteger(value) && value > 0 ? Math.min(value, max) : fallback;
}

export function parseResolvConf(text: string): ResolvConf {
  const nameservers: IpAddress[] = [];
  const options: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [keyword, ...values] = line.split(/\s+/);
    if (keyword === 'nameserver' && values[0] !== undefined) {
      // A link-local nameserver carries a zone (`fe80::1%eth0`); it is not routed anywhere.
      const parsed = parseUnicastAddress(values[0]);
      if (parsed.ok && !nameservers.some((n) => n.text === parsed.address.text)) nameservers.push(parsed.address);
    } else if (keyword === 'options') {
      options.push(...values);
    }
  }
  return { nameservers, timeoutMs: option(options, 'timeout', 5, 30) * 1000, attempts: option(options, 'attempts', 2, 5) };
}
