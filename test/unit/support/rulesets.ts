/** Rulesets for the firewall tests, built by hand as rulesetFor would build them. */
import type { IpAddress } from '../../../src/config/address.js';
import type { Protocol } from '../../../src/config/destinations.js';
import type { RedirectEntry, Ruleset } from '../../../src/firewall/ruleset.js';

export const v4 = (text: string): IpAddress => ({ family: 4, text });
export const v6 = (text: string): IpAddress => ({ family: 6, text });

export const rule = (protocol: Protocol, port: number, targets: string[], targetPort = port): RedirectEntry => ({
  protocol,
  port,
  targets: targets.map((t) => (t.includes(':') ? v6(t) : v4(t))),
  targetPort,
});

export function ruleset(redirects: RedirectEntry[], extra: Partial<Ruleset> = {}): Ruleset {
  return {
    family: 4,
    clusterInterface: 'eth0',
    egressInterface: 'macvlan0',
    source: v4('192.168.12.99'),
    redirects,
    localPorts: [],
    perRuleCounters: true,
    logDrops: false,
    ...extra,
  };
}

const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;

/** `count` rules with distinct (protocol, port), one address each, as a long list has them. */
export function manyRules(count: number): RedirectEntry[] {
  return Array.from({ length: count }, (_, i) => rule(PROTOCOLS[Math.floor(i / 65535)]!, (i % 65535) + 1, [`203.0.${(i >> 7) & 255}.${(i & 127) + 1}`], 80));
}
