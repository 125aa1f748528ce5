/**
 * Strict reverse-path filtering (`rp_filter=1`) on the pod's interfaces. The kernel applies the
 * larger of `conf.all.rp_filter` and the interface's own value; RHEL and RHCOS nodes set strict
 * mode and a new network namespace inherits it, so many egress router pods start strict.
 *
 * The router's reply routing already passes the strict check on the kernels measured
 * (docs/reverse-path-filtering.md), but strict filtering is one more thing between a client and
 * its destination that depends on routing details: where the router forwards DNATed traffic it
 * sets loose mode (2) on the interfaces it forwards between, when it can. Where /proc/sys is
 * read-only it refuses, naming the sysctl, unless the administrator chose `EGRESS_ROUTER_RP_FILTER
 * =keep` to run with the filter as it is.
 */
import type { Config } from '../config/config.js';
import { type Problem, problem } from '../problem.js';
import type { Observed } from './observed.js';
import type { Step } from './plan.js';
import { preparesOnly } from './network.js';

export const RP_FILTER_CHOICES = ['loose', 'keep'] as const;
export type ReversePathChoice = (typeof RP_FILTER_CHOICES)[number];

/** sysctl(8) writes a dot inside an interface name (eth0.100) as a slash. */
export const rpFilterKey = (iface: string): string => `net.ipv4.conf.${iface.replace(/\./g, '/')}.rp_filter`;

const STRICT = 1;
const LOOSE = '2';

/** The interfaces whose effective filtering is strict where the router forwards, in order. */
function strictInterfaces(config: Config, observed: Observed): { name: string; value: string }[] {
  const rp = observed.reversePathFilter;
  if (!rp || config.family !== 4 || config.rpFilter === 'keep') return [];
  // DNATed traffic crosses the pod only in the redirect modes and the DNS proxy's kernel path.
  if (config.mode === 'http-proxy' || !config.destinations) return [];
  const all = Number(rp.all) || 0;
  return [
    { name: config.clusterInterface, value: rp.cluster },
    { name: config.egressInterface, value: rp.egress },
  ].filter(({ value }) => Math.max(all, Number(value) || 0) === STRICT);
}

export function reversePathSteps(config: Config, observed: Observed): Step[] {
  if (preparesOnly(config) && !observed.reversePathFilter?.writable) return [];
  return strictInterfaces(config, observed).map(({ name }) => ({ kind: 'sysctl', label: 'loose reverse-path filtering', key: rpFilterKey(name), value: LOOSE }));
}

export function reversePathProblems(config: Config, observed: Observed): Problem[] {
  const strict = strictInterfaces(config, observed);
  if (strict.length === 0 || observed.reversePathFilter?.writable || preparesOnly(config)) return [];
  return strict.map(({ name }) =>
    problem(
      'environment',
      `sysctl ${rpFilterKey(name)}`,
      'is strict (1, or conf.all is) and /proc/sys is read-only here; set it to 2 for the pod (securityContext.sysctls or the CNI tuning plugin), run privileged, or set EGRESS_ROUTER_RP_FILTER=keep to run with strict filtering, which the router\'s reply routing passes (docs/reverse-path-filtering.md)',
    ),
  );
}
