/** Configuration and observations in, the complete plan out. Pure. */
import type { Config } from '../config/config.js';
import { emptySnapshot, iptablesCommands, renderIptablesConverge, wantedSnapshot } from '../firewall/iptables.js';
import { renderNftables } from '../firewall/nftables.js';
import { type Ruleset, noAnswers, rulesetFor } from '../firewall/ruleset.js';
import { type Result, fail, ok } from '../problem.js';
import { planAnnouncements } from './announce.js';
import { planBackendSwitch } from './backend-switch.js';
import { planNetwork } from './network.js';
import type { Observed } from './observed.js';
import type { FirewallStep, Plan, Step } from './plan.js';
import { preflight } from './preflight.js';

export function firewallStep(ruleset: Ruleset, backend: Observed['firewallBackend'], observed?: Observed): FirewallStep {
  if (backend === 'nftables') {
    return { kind: 'firewall', label: 'firewall (nftables)', backend, argv: ['nft', '-f', '-'], input: renderNftables(ruleset) };
  }
  const before = observed?.iptables ?? emptySnapshot();
  return {
    kind: 'firewall',
    label: 'firewall (iptables)',
    backend,
    argv: [iptablesCommands(ruleset.family).restore, '--noflush'],
    input: renderIptablesConverge(before, wantedSnapshot(ruleset)),
    before,
  };
}

/**
 * The firewall goes first: it is one transaction that either lands whole or changes nothing,
 * and it is the step most likely to be refused (a kernel without a module, say).
 */
export function buildPlan(config: Config, observed: Observed, resolved?: Ruleset): Result<Plan> {
  const problems = preflight(config, observed);
  if (problems.length > 0) return fail(...problems);
  const ruleset = resolved ?? rulesetFor(config, noAnswers);
  const steps: Step[] = ruleset ? [firewallStep(ruleset, observed.firewallBackend, observed)] : [];
  // The other backend's rules go only once this run's ruleset is in place.
  steps.push(...planBackendSwitch(config, observed));
  // With failover, keepalived holds the source address and announces it at each takeover.
  steps.push(...planNetwork(config, observed, config.failover ? 'keepalived' : 'router'));
  return ok({ steps, announce: config.failover ? [] : planAnnouncements(config, observed.egress) });
}
