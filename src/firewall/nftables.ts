/**
 * The nftables backend: one table the router owns, replaced whole in one `nft -f` transaction,
 * or changed element by element (./update.ts).
 *
 * The chains are static, as in kube-proxy's nftables mode; what changes lives in maps and sets:
 * - `redirects`: (protocol, port) -> (address, port) for rules served by one address, so a new
 *   connection costs one hash lookup whichever rule it hits;
 * - `verdicts`: (protocol, port) -> `goto rule_<protocol>_<port>`, a chain that spreads new
 *   connections across several addresses, or `accept` for a rule whose name has no address yet
 *   and for the pod's own ports: the packet reaches the pod, which refuses it (nothing listens)
 *   or answers it (the status endpoint), and the fallback never sees it;
 * - `out_<protocol>`, `in_<protocol>`: every rule's port, counting its forwarded packets and
 *   bytes by the connection's original destination port.
 * With per-rule counters, both maps count new connections per element (the `counter` flag) and
 * the traffic sets count packets and bytes, read back with the ruleset (./counters.ts); without
 * them (long lists) the traffic sets are left out and forwarding is not counted per rule.
 */
import type { Family, IpAddress } from '../config/address.js';
import { PROTOCOLS, type Protocol } from '../config/destinations.js';
import { type RedirectEntry, type Ruleset, DROP_LOG_PREFIX } from './ruleset.js';

export const NFT_TABLE = 'egress_router';
export const NFT_DROP_COUNTER = 'forward_dropped';
export const NFT_REDIRECTS = 'redirects';
export const NFT_VERDICTS = 'verdicts';
export const NFT_FALLBACK_CHAIN = 'fallback';
export const NFT_FALLBACK_COUNTERS = { connections: 'fallback_connections', out: 'fallback_out', in: 'fallback_in' } as const;
export const DIRECTIONS = ['out', 'in'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export const nftFamily = (ruleset: Pick<Ruleset, 'family'>): 'ip' | 'ip6' => (ruleset.family === 4 ? 'ip' : 'ip6');

/** The set that counts a protocol's forwarded traffic in one direction. */
export const trafficSet = (direction: Direction, protocol: Protocol): string => `${direction}_${protocol}`;

/** Every traffic set, in the order the forward chain looks them up. */
export const trafficSets = (): { name: string; direction: Direction; protocol: Protocol }[] =>
  DIRECTIONS.flatMap((direction) => PROTOCOLS.map((protocol) => ({ name: trafficSet(direction, protocol), direction, protocol })));

/** The chain that spreads one rule's new connections. */
export const ruleChain = (protocol: Protocol, port: number): string => `rule_${protocol}_${port}`;

/** `tcp . 80`: the key of a rule in both maps. */
export const ruleKeyText = (r: { protocol: Protocol; port: number }): string => `${r.protocol} . ${r.port}`;

/** The `redirects` element of a rule served by one address. */
export const redirectElement = (r: RedirectEntry): string => `${r.protocol} . ${r.port} : ${r.targets[0]!.text} . ${r.targetPort}`;

/** The `verdicts` element of a rule that spreads (goto its chain) or refuses (accept). */
export const verdictElement = (r: RedirectEntry): string =>
  `${r.protocol} . ${r.port} : ${r.targets.length === 0 ? 'accept' : `goto ${ruleChain(r.protocol, r.port)}`}`;

/** `numgen random mod N map { 0 : a, 1 : b }`: each new connection picks one, evenly. */
function spreadMap(values: readonly string[]): string {
  return `numgen random mod ${values.length} map { ${values.map((v, i) => `${i} : ${v}`).join(', ')} }`;
}

/**
 * The one rule of a spreading rule's chain. nft needs the protocol stated before it translates
 * a port, as the map lookup in prerouting states it with `meta l4proto`.
 */
export function spreadRule(family: Family, r: RedirectEntry): string {
  const to = spreadMap(r.targets.map((t) => `${t.text} . ${r.targetPort}`));
  return `meta l4proto ${r.protocol} dnat ${family === 4 ? 'ip' : 'ip6'} to ${to}`;
}

/** The fallback chain's rule, or none when the fallback has no address (or there is none). */
export function fallbackRule(family: Family, targets: readonly IpAddress[]): string | undefined {
  if (targets.length === 0) return undefined;
  const to = targets.length === 1 ? targets[0]!.text : spreadMap(targets.map((t) => t.text));
  return `counter name ${NFT_FALLBACK_COUNTERS.connections} dnat ${family === 4 ? 'ip' : 'ip6'} to ${to}`;
}

/** Elements as the body of `elements = { ... }` or `add element ... { ... }`, one per line. */
export const elementList = (elements: readonly string[], indent: string): string => elements.map((e) => `${indent}${e}`).join(',\n');

function declareElements(out: string[], elements: readonly string[]): void {
  if (elements.length === 0) return; // nft refuses an empty elements clause
  out.push('\t\telements = {', elementList(elements, '\t\t\t'), '\t\t}');
}

/** What a ruleset puts in the maps, the sets and the per-rule chains. */
export interface NftElements {
  redirects: string[];
  verdicts: string[];
  /** The rules that get a chain of their own. */
  spreading: RedirectEntry[];
  /** Ports per protocol of every rule: the elements of the traffic sets. */
  ports: Record<Protocol, string[]>;
}

export function nftElements(ruleset: Ruleset): NftElements {
  const elements: NftElements = { redirects: [], verdicts: [], spreading: [], ports: { tcp: [], udp: [], sctp: [] } };
  for (const r of ruleset.redirects) {
    if (r.targets.length === 1) elements.redirects.push(redirectElement(r));
    else elements.verdicts.push(verdictElement(r));
    if (r.targets.length > 1) elements.spreading.push(r);
    if (ruleset.perRuleCounters) elements.ports[r.protocol].push(String(r.port));
  }
  for (const p of ruleset.localPorts) elements.verdicts.push(`${ruleKeyText(p)} : accept`);
  return elements;
}

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
  const elements = nftElements(ruleset);

  const out: string[] = [`table ${family} ${NFT_TABLE}`, `delete table ${family} ${NFT_TABLE}`, `table ${family} ${NFT_TABLE} {`];
  const counter = ruleset.perRuleCounters ? ['\t\tcounter'] : [];
  out.push(`\tmap ${NFT_REDIRECTS} {`, `\t\ttype inet_proto . inet_service : ${addressType} . inet_service`, ...counter);
  declareElements(out, elements.redirects);
  out.push('\t}', '', `\tmap ${NFT_VERDICTS} {`, '\t\ttype inet_proto . inet_service : verdict', ...counter);
  declareElements(out, elements.verdicts);
  out.push('\t}', '');
  for (const set of ruleset.perRuleCounters ? trafficSets() : []) {
    out.push(`\tset ${set.name} {`, '\t\ttype inet_service', '\t\tcounter');
    declareElements(out, elements.ports[set.protocol]);
    out.push('\t}', '');
  }
  const named = ruleset.perRuleCounters ? Object.values(NFT_FALLBACK_COUNTERS) : [NFT_FALLBACK_COUNTERS.connections];
  for (const name of [NFT_DROP_COUNTER, ...named]) out.push(`\tcounter ${name} {`, '\t}', '');
  for (const r of elements.spreading) out.push(`\tchain ${ruleChain(r.protocol, r.port)} {`, `\t\t${spreadRule(ruleset.family, r)}`, '\t}', '');
  const fallback = fallbackRule(ruleset.family, ruleset.fallback?.targets ?? []);
  out.push(`\tchain ${NFT_FALLBACK_CHAIN} {`, ...(fallback ? [`\t\t${fallback}`] : []), '\t}', '');
  out.push(
    '\tchain prerouting {',
    '\t\ttype nat hook prerouting priority dstnat; policy accept;',
    `\t\t${toPod} dnat ${family} to meta l4proto . th dport map @${NFT_REDIRECTS}`,
    `\t\t${toPod} meta l4proto . th dport vmap @${NFT_VERDICTS}`,
    `\t\t${toPod} goto ${NFT_FALLBACK_CHAIN}`,
    '\t}',
    '',
    '\tchain postrouting {',
    '\t\ttype nat hook postrouting priority srcnat; policy accept;',
    // VRRP adverts keep their own source, so that keepalived's peers tell the routers apart.
    `\t\toifname ${egress} meta l4proto 112 accept`,
    `\t\toifname ${egress} snat ${family} to ${ruleset.source.text}`,
    '\t}',
    '',
    // No server of the pod (a proxy, the status endpoint) answers the LAN; replies of the pod's
    // own connections, ICMP (neighbour discovery) and VRRP pass.
    '\tchain input {',
    '\t\ttype filter hook input priority filter; policy accept;',
    `\t\tiifname ${egress} ct state established,related accept`,
    `\t\tiifname ${egress} meta l4proto tcp reject with tcp reset`,
    `\t\tiifname ${egress} meta l4proto { udp, sctp } reject`,
    '\t}',
    '',
    // Only what was redirected crosses the router, so it is no door into the cluster or out of it.
    '\tchain forward {',
    '\t\ttype filter hook forward priority filter; policy accept;',
  );
  const ends = { out: `iifname ${cluster} oifname ${egress}`, in: `iifname ${egress} oifname ${cluster}` };
  if (ruleset.perRuleCounters) {
    for (const set of trafficSets()) {
      out.push(`\t\t${ends[set.direction]} ct status dnat meta l4proto ${set.protocol} ct original proto-dst @${set.name} accept`);
    }
  }
  // What is left of the redirected traffic is the fallback's (all of it without per-rule counters).
  for (const direction of DIRECTIONS) {
    const count = ruleset.perRuleCounters ? `counter name ${NFT_FALLBACK_COUNTERS[direction]} ` : '';
    out.push(`\t\t${ends[direction]} ct status dnat ${count}accept`);
  }
  if (ruleset.logDrops) out.push(`\t\tlog prefix ${JSON.stringify(DROP_LOG_PREFIX)} level debug`);
  out.push(`\t\tcounter name ${NFT_DROP_COUNTER} drop`, '\t}', '}', '');
  return out.join('\n');
}
