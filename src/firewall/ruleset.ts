/**
 * The firewall as data: what the router redirects, translates and lets through. Both backends
 * render this one description, so they cannot drift apart in meaning.
 */
import type { Family, IpAddress } from '../config/address.js';
import type { Config } from '../config/config.js';
import type { Protocol } from '../config/destinations.js';

export interface RedirectEntry {
  protocol: Protocol;
  port: number;
  target: IpAddress;
  targetPort: number;
}

export interface Ruleset {
  family: Family;
  /** Where clients' connections come in. */
  clusterInterface: string;
  /** Where redirected connections leave, translated to `source`. */
  egressInterface: string;
  source: IpAddress;
  redirects: RedirectEntry[];
  /** Everything else addressed to the pod goes here; without it, unlisted ports are refused. */
  fallback?: IpAddress;
  /** Log dropped forwards (EGRESS_ROUTER_DEBUG); they are always counted. */
  logDrops: boolean;
}

/** The prefix of dropped-packet log lines, for `dmesg | grep`. */
export const DROP_LOG_PREFIX = 'egress-router drop: ';

export function rulesetFor(config: Config): Ruleset | undefined {
  const list = config.destinations;
  if (!list) return undefined;
  return {
    family: config.family,
    clusterInterface: config.clusterInterface,
    egressInterface: config.egressInterface,
    source: config.source,
    redirects: list.redirects.map(({ protocol, port, target, targetPort }) => ({ protocol, port, target, targetPort })),
    fallback: list.fallback?.target,
    logDrops: config.debug,
  };
}
