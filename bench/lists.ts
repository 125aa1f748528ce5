/**
 * The rule lists the benchmark applies, and the legacy router's ruleset shape for the same list.
 *
 * Rule i redirects local port 1024 + (i mod 64,512) to port 80 of one of the LAN's destination
 * addresses, on tcp for the first 64,512 rules, then udp, then sctp: a (port, protocol) pair may be
 * used once, so 100,000 rules need more than one protocol. Up to 64,512 rules every rule is tcp,
 * and the first and the last rule are both reachable by the TCP load generator.
 */
import { PROTOCOLS, type Protocol } from '../src/config/destinations.js';

const FIRST_PORT = 1024;
const PORTS = 65536 - FIRST_PORT;
export const REMOTE_PORT = 80;

export interface BenchRule {
  protocol: Protocol;
  port: number;
  target: string;
}

export function benchRule(index: number, destinations: readonly string[]): BenchRule {
  const protocol = PROTOCOLS[Math.floor(index / PORTS)];
  if (!protocol) throw new Error(`rule ${index}: no more (port, protocol) pairs`);
  return { protocol, port: FIRST_PORT + (index % PORTS), target: destinations[index % destinations.length]! };
}

export function benchRules(count: number, destinations: readonly string[]): BenchRule[] {
  return Array.from({ length: count }, (_, i) => benchRule(i, destinations));
}

/** The list as the router reads it from EGRESS_DESTINATION_FILE. */
export function destinationList(rules: readonly BenchRule[]): string {
  const lines = [`# benchmark list: ${rules.length} rules`];
  for (const r of rules) lines.push(`${r.port} ${r.protocol} ${r.target} ${REMOTE_PORT}`);
  return `${lines.join('\n')}\n`;
}

export interface LegacyShape {
  clusterInterface: string;
  egressInterface: string;
  source: string;
}

/**
 * The legacy router's ruleset for the same list, in the nftables form its script has loaded
 * since 2026: a `table ip nat` it flushes and refills, one DNAT rule per redirect in prerouting,
 * matched in order, and one SNAT in postrouting. No forward filter: the legacy router had none.
 * A new connection walks the chain until its rule, so the last rule costs the most.
 */
export function legacyNftRuleset(rules: readonly BenchRule[], shape: LegacyShape): string {
  const iif = JSON.stringify(shape.clusterInterface);
  const out = [
    'table ip nat',
    'flush table ip nat',
    'table ip nat {',
    '\tchain PREROUTING {',
    '\t\ttype nat hook prerouting priority dstnat; policy accept;',
  ];
  for (const r of rules) out.push(`\t\tiifname ${iif} ${r.protocol} dport ${r.port} dnat to ${r.target}:${REMOTE_PORT}`);
  out.push(
    '\t}',
    '\tchain POSTROUTING {',
    '\t\ttype nat hook postrouting priority srcnat; policy accept;',
    `\t\toifname ${JSON.stringify(shape.egressInterface)} snat to ${shape.source}`,
    '\t}',
    '}',
    '',
  );
  return out.join('\n');
}

/**
 * `count` distinct destination addresses, from 198.18.0.0/15 (reserved for benchmarks): the
 * worst case for the parser, which otherwise parses each distinct address once.
 */
export function distinctTargets(count: number): string[] {
  if (count > 1 << 17) throw new Error('198.18.0.0/15 holds 131,072 addresses');
  return Array.from({ length: count }, (_, i) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);
}
