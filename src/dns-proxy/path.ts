/**
 * Which path the DNS proxy takes. The kernel path forwards connections in the router's nftables
 * map (no byte through user space) and needs CAP_NET_ADMIN, forwarding on, and the router's table
 * with its `redirects` map, which the router (init container in `dns-proxy` mode) creates. A
 * legacy-style proxy container has none of that and gets the user-space relay (relay.ts), with
 * the same resolution, spreading and health checks.
 */
import { readFileSync } from 'node:fs';
import type { Family } from '../config/address.js';
import { NFT_TABLE } from '../firewall/nftables.js';
import { parseCapabilities } from '../system/capabilities.js';
import { runCommand } from '../system/commands.js';

export type PathDecision = { kernel: true; reason: string } | { kernel: false; reason: string };

export interface PathFacts {
  netAdmin: boolean;
  /** The forwarding sysctl's value, or undefined when it cannot be read. */
  forwarding: string | undefined;
  /** Whether `nft list map ... redirects` succeeded, and its complaint if not. */
  redirectMap: { ok: true } | { ok: false; error: string };
}

const forwardingKey = (family: Family) => (family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding');
const nftFamily = (family: Family) => (family === 4 ? 'ip' : 'ip6');

/** The decision from what was found. Pure. */
export function decidePath(facts: PathFacts, family: Family): PathDecision {
  if (!facts.netAdmin) return { kernel: false, reason: 'no CAP_NET_ADMIN (a proxy container without capabilities)' };
  if (facts.forwarding !== '1') {
    return { kernel: false, reason: `${forwardingKey(family)} is ${facts.forwarding === undefined ? 'unreadable' : facts.forwarding}, not 1` };
  }
  if (!facts.redirectMap.ok) {
    return { kernel: false, reason: `no nftables map ${nftFamily(family)} ${NFT_TABLE} redirects (${facts.redirectMap.error}); the router has not set the pod up for it` };
  }
  return { kernel: true, reason: `CAP_NET_ADMIN, ${forwardingKey(family)}=1 and the map ${nftFamily(family)} ${NFT_TABLE} redirects are there` };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Looks at this process and its network namespace (read-only) and decides. */
export async function kernelPathAvailable(family: Family): Promise<PathDecision> {
  const netAdmin = parseCapabilities(read('/proc/self/status') ?? '').netAdmin;
  const forwarding = read(`/proc/sys/${forwardingKey(family).replace(/\./g, '/')}`);
  // Listing needs CAP_NET_ADMIN; without it the answer is known already.
  let redirectMap: PathFacts['redirectMap'] = { ok: false, error: 'not looked for' };
  if (netAdmin && forwarding === '1') {
    const listed = await runCommand(['nft', 'list', 'map', nftFamily(family), NFT_TABLE, 'redirects']);
    redirectMap = listed.ok ? { ok: true } : { ok: false, error: listed.error };
  }
  return decidePath({ netAdmin, forwarding, redirectMap }, family);
}
