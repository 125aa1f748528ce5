/**
 * Configurations and observed pod states for unit tests of the planner: a fresh pod as the
 * probe sees it, built from the same defaults as test/unit/plan.test.ts.
 */
import { type Config, parseConfig } from '../../src/config/config.js';
import { buildPlan } from '../../src/plan/build.js';
import type { Observed } from '../../src/plan/observed.js';
import type { Plan } from '../../src/plan/plan.js';
import { formatProblem } from '../../src/problem.js';

export function config(env: Record<string, string> = {}): Config {
  const result = parseConfig(
    { EGRESS_SOURCE: '192.168.12.99/24', EGRESS_GATEWAY: '192.168.12.1', EGRESS_DESTINATION: '80 tcp 203.0.113.25', EGRESS_ROUTER_MODE: 'init', ...env },
    () => ({ ok: false, reason: 'no files in unit tests' }),
  );
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.value;
}

export const config6 = (env: Record<string, string> = {}): Config =>
  config({ EGRESS_SOURCE: '2001:db8:12::99/64', EGRESS_GATEWAY: '2001:db8:12::1', EGRESS_DESTINATION: '80 tcp 2001:db8:99::25', ...env });

/** A fresh OpenShift-SDN-like pod: eth0 with a /23 and a default route, macvlan0 down and bare. */
export function freshPod(overrides: Partial<Observed> = {}): Observed {
  return {
    egress: { name: 'macvlan0', kind: 'macvlan', up: false, addresses: [], index: 3, mac: 'ce:f0:44:ba:16:16' },
    cluster: { name: 'eth0', kind: 'veth', up: true, addresses: [{ family: 4, text: '10.128.0.5', prefix: 23, scope: 'global' }] },
    mainRoutes: [
      { dst: 'default', gateway: '10.128.0.1', dev: 'eth0', onlink: false },
      { dst: '10.128.0.0/23', dev: 'eth0', scope: 'link', prefsrc: '10.128.0.5', onlink: false },
    ],
    replyRoutes: [],
    rules: [
      { priority: 0, src: 'all', table: 'local' },
      { priority: 32766, src: 'all', table: 'main' },
    ],
    forwarding: { value: '0', writable: true },
    nameservers: [],
    capabilities: { netAdmin: true, netRaw: true },
    tools: { ip: true, nft: true, arping: true, perl: true, 'iptables-restore': true, 'iptables-save': true, 'ip6tables-restore': true, 'ip6tables-save': true },
    firewallBackend: 'nftables',
    ...overrides,
  };
}

export function plan(cfg: Config, observed: Observed): Plan {
  const result = buildPlan(cfg, observed);
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.value;
}

/** Problems preflight finds, one formatted line each; empty when the plan was built. */
export function problems(cfg: Config, observed: Observed): string[] {
  const result = buildPlan(cfg, observed);
  return result.ok ? [] : result.problems.map(formatProblem);
}
