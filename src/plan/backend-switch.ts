/**
 * The backend switch: when an earlier run loaded its firewall with the other backend
 * (EGRESS_ROUTER_FIREWALL changed, or `auto` resolved differently), its rules are removed, and
 * only after this run's ruleset is loaded: redirected traffic always meets one of the two, never
 * neither. Both rulesets redirect the same way for the moment they coexist.
 */
import type { Config } from '../config/config.js';
import { type FirewallLeftovers, hasIptablesRules, renderIptablesRemoval, renderNftablesRemoval } from '../firewall/cleanup.js';
import { iptablesCommands } from '../firewall/iptables.js';
import type { Observed } from './observed.js';
import type { FirewallStep } from './plan.js';

/** The commands the removal of `leftovers` runs, for preflight's check of the PATH. */
export function leftoverTools(config: Config, backend: Observed['firewallBackend'], leftovers: FirewallLeftovers | undefined): string[] {
  if (!config.destinations || !leftovers) return [];
  if (backend === 'nftables' && leftovers.iptables && hasIptablesRules(leftovers.iptables)) return [iptablesCommands(config.family).restore];
  if (backend === 'iptables' && leftovers.nftablesTable) return ['nft'];
  return [];
}

/** The steps that remove the other backend's rules; they go right after this run's firewall load. */
export function planBackendSwitch(config: Config, observed: Observed): FirewallStep[] {
  // Only a run that loads a firewall replaces one: the proxy modes install none.
  const leftovers = observed.leftovers;
  if (!config.destinations || !leftovers) return [];
  if (observed.firewallBackend === 'nftables' && leftovers.iptables && hasIptablesRules(leftovers.iptables)) {
    return [
      {
        kind: 'firewall',
        label: 'remove the iptables rules of an earlier run (backend switch)',
        backend: 'iptables',
        argv: [iptablesCommands(config.family).restore, '--noflush'],
        input: renderIptablesRemoval(leftovers.iptables),
        // A removal that fails half way is converged back, as a failed load is.
        before: leftovers.iptables,
      },
    ];
  }
  if (observed.firewallBackend === 'iptables' && leftovers.nftablesTable) {
    return [
      {
        kind: 'firewall',
        label: 'remove the nftables table of an earlier run (backend switch)',
        backend: 'nftables',
        argv: ['nft', '-f', '-'],
        input: renderNftablesRemoval(config.family),
      },
    ];
  }
  return [];
}
