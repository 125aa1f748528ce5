/**
 * The nftables backend: one table the router owns, replaced whole in one `nft -f` transaction.
 *
 * Redirects live in a map keyed on (protocol, port), so a new connection costs one hash lookup
 * whichever rule it hits; the chains themselves are static, as in kube-proxy's nftables mode.
 */
import { type Ruleset, DROP_LOG_PREFIX } from './ruleset.js';

export const NFT_TABLE = 'egress_router';
export const NFT_DROP_COUNTER = 'forward_dropped';

export const nftFamily = (ruleset: Pick<Ruleset, 'family'>): 'ip' | 'ip6' => (ruleset.family === 4 ? 'ip' : 'ip6');

/**
 * The whole ruleset as `nft -f` input. Declaring, deleting and redefining the table in one file
 * makes the replacement atomic and idempotent: the kernel applies all of it or none.
 */
export function renderNftables(ruleset: Ruleset): string {
  const family = nftFamily(ruleset);
  const addressType = ruleset.family === 4 ? 'ipv4_addr' : 'ipv6_addr';
  const cluster = JSON.stringify(ruleset.clusterInterface);
  const egress = JSON.stringify(ruleset.egressInterface);
  const toPod = `iifname ${cluster} fib daddr type local`;
  const out: string[] = [
    `table ${family} ${NFT_TABLE}`,
    `delete table ${family} ${NFT_TABLE}`,
    `table ${family} ${NFT_TABLE} {`,
    `\tmap redirects {`,
    `\t\ttype inet_proto . inet_service : ${addressType} . inet_service`,
  ];
  if (ruleset.redirects.length > 0) {
    out.push('\t\telements = {');
    const elements = ruleset.redirects.map((r) => `\t\t\t${r.protocol} . ${r.port} : ${r.target.text} . ${r.targetPort}`);
    out.push(elements.join(',\n'));
    out.push('\t\t}');
  }
  out.push(
    '\t}',
    '',
    `\tcounter ${NFT_DROP_COUNTER} {`,
    '\t}',
    '',
    '\tchain prerouting {',
    '\t\ttype nat hook prerouting priority dstnat; policy accept;',
    `\t\t${toPod} dnat ${family} to meta l4proto . th dport map @redirects`,
  );
  if (ruleset.fallback) out.push(`\t\t${toPod} dnat ${family} to ${ruleset.fallback.text}`);
  out.push(
    '\t}',
    '',
    '\tchain postrouting {',
    '\t\ttype nat hook postrouting priority srcnat; policy accept;',
    `\t\toifname ${egress} snat ${family} to ${ruleset.source.text}`,
    '\t}',
    '',
    // Only what was redirected crosses the router, so it is no door into the cluster or out of it.
    '\tchain forward {',
    '\t\ttype filter hook forward priority filter; policy accept;',
    `\t\tiifname ${cluster} oifname ${egress} ct status dnat accept`,
    `\t\tiifname ${egress} oifname ${cluster} ct status dnat accept`,
  );
  if (ruleset.logDrops) out.push(`\t\tlog prefix ${JSON.stringify(DROP_LOG_PREFIX)} level debug`);
  out.push(`\t\tcounter name ${NFT_DROP_COUNTER} drop`, '\t}', '}', '');
  return out.join('\n');
}
