/**
 * The firewall as data: what the router redirects, translates and lets through, with every name
 * of the destination list replaced by the addresses it currently resolves to. Both backends
 * render this one description, so they cannot drift apart in meaning, and the element-level
 * updates (./update.ts) are the difference between two of them.
 */
import type { Family, IpAddress } from '../config/address.js';
import type { Config } from '../config/config.js';
import { type Destination, type Protocol, isHostName } from '../config/destinations.js';

export interface RedirectEntry {
  protocol: Protocol;
  port: number;
  /**
   * New connections spread evenly across these, in this (sorted) order. Empty: the port refuses
   * connections (a name not resolved yet, or resolved to nothing); it never falls through to the
   * fallback, which would send a client somewhere it did not ask to go.
   */
  targets: IpAddress[];
  targetPort: number;
}

/** A port of the pod itself, never redirected, not even by the fallback: the status endpoint. */
export interface LocalPort {
  protocol: Protocol;
  port: number;
}

export interface Ruleset {
  family: Family;
  /** Where clients' connections come in. */
  clusterInterface: string;
  /** Where redirected connections leave, translated to `source`. */
  egressInterface: string;
  source: IpAddress;
  redirects: RedirectEntry[];
  /**
   * Everything else addressed to the pod goes here, spread across the targets. Absent, or with
   * no targets (a name not resolved yet): unlisted ports are refused.
   */
  fallback?: { targets: IpAddress[] };
  localPorts: LocalPort[];
  /**
   * Count new connections, packets and bytes per rule in the ruleset (nftables; iptables rules
   * always count). They cost the kernel and `nft` time and memory with every element, so long
   * lists go without them (see PER_RULE_COUNTER_LIMIT).
   */
  perRuleCounters: boolean;
  /** Log dropped forwards (EGRESS_ROUTER_DEBUG); they are always counted. */
  logDrops: boolean;
}

/** The prefix of dropped-packet log lines, for `dmesg | grep`. */
export const DROP_LOG_PREFIX = 'egress-router drop: ';

/** A name's current addresses; undefined while it has no answer yet. */
export type AddressesOf = (name: string) => readonly IpAddress[] | undefined;

/** For a router that resolves nothing (yet): every name's port refuses connections. */
export const noAnswers: AddressesOf = () => undefined;

/**
 * The longest list that gets per-rule counters by default: the metrics show per-rule series up
 * to this many rules, and at 100,000 rules the counters would add about 2 s of CPU and 75 MB to
 * a full load for figures nobody reads.
 */
export const PER_RULE_COUNTER_LIMIT = 1000;

export interface RulesetOptions {
  /** Ports the pod serves itself on the cluster interface (the status endpoint). */
  localPorts?: readonly LocalPort[];
  /** Per-rule counters; by default for lists of up to PER_RULE_COUNTER_LIMIT rules. */
  perRuleCounters?: boolean;
  /**
   * Whether an address of a name accepts connections on a port (the health checks). A rule's
   * unhealthy addresses get no new connections, unless none of them is healthy: then all do, as
   * a check that fails for every address says more about the checks than about the servers.
   */
  healthy?: (address: IpAddress, protocol: Protocol, port: number) => boolean;
}

function healthyOnly(targets: IpAddress[], isUp: (address: IpAddress) => boolean): IpAddress[] {
  const up = targets.filter(isUp);
  return up.length > 0 && up.length < targets.length ? up : targets;
}

/** A number per (protocol, port), for maps keyed on the pair without building strings. */
export const ruleKey = (protocol: Protocol, port: number): number => port * 4 + (protocol === 'tcp' ? 0 : protocol === 'udp' ? 1 : 2);

const byText = (a: IpAddress, b: IpAddress): number => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0);

/**
 * The addresses a rule spreads across: the source's family only, each once, sorted, so that a
 * resolver that rotates its answers (round-robin DNS) does not look like a change.
 */
function addressesFor(family: Family, addressesOf: AddressesOf): (target: Destination) => IpAddress[] {
  const cache = new Map<string, IpAddress[]>();
  return (target) => {
    if (!isHostName(target)) return [target];
    let targets = cache.get(target.name);
    if (targets === undefined) {
      const unique = new Map<string, IpAddress>();
      for (const address of addressesOf(target.name) ?? []) if (address.family === family) unique.set(address.text, address);
      targets = [...unique.values()].sort(byText);
      cache.set(target.name, targets);
    }
    return targets;
  };
}

/**
 * The ruleset for a configuration and the names' current answers. Pure: the same inputs give an
 * equal ruleset, which is what lets the caller compare two of them and apply the difference.
 * A redirect on a local port is left out (the configuration refuses such a list anyway).
 */
export function rulesetFor(config: Config, addressesOf: AddressesOf, options: RulesetOptions = {}): Ruleset | undefined {
  const list = config.destinations;
  if (!list) return undefined;
  const localPorts = (options.localPorts ?? []).map(({ protocol, port }) => ({ protocol, port }));
  const local = new Set(localPorts.map((p) => ruleKey(p.protocol, p.port)));
  const targetsOf = addressesFor(config.family, addressesOf);
  const redirects: RedirectEntry[] = [];
  const healthy = options.healthy;
  for (const { protocol, port, target, targetPort } of list.redirects) {
    if (local.has(ruleKey(protocol, port))) continue;
    let targets = targetsOf(target);
    if (healthy && isHostName(target) && targets.length > 1) targets = healthyOnly(targets, (a) => healthy(a, protocol, targetPort));
    redirects.push({ protocol, port, targets, targetPort });
  }
  const ruleset: Ruleset = {
    family: config.family,
    clusterInterface: config.clusterInterface,
    egressInterface: config.egressInterface,
    source: { family: config.source.family, text: config.source.text },
    redirects,
    localPorts,
    perRuleCounters: options.perRuleCounters ?? redirects.length <= PER_RULE_COUNTER_LIMIT,
    logDrops: config.debug,
  };
  if (list.fallback) ruleset.fallback = { targets: targetsOf(list.fallback.target) };
  return ruleset;
}

/** Whether a rule is served by one address (a map element), several (a chain) or none (refused). */
export type Spread = 'single' | 'several' | 'refused';

export const spreadOf = (targets: readonly IpAddress[]): Spread =>
  targets.length === 0 ? 'refused' : targets.length === 1 ? 'single' : 'several';
