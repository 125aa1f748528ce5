/**
 * Everything that must hold before the first change, checked against what the probe observed.
 * A pod that fails here is left exactly as it was.
 */
import type { Config } from '../config/config.js';
import { type Problem, problem } from '../problem.js';
import { iptablesCommands } from '../firewall/iptables.js';
import { leftoverTools } from './backend-switch.js';
import { forwardingKey, forwards, preparesOnly } from './network.js';
import type { Observed } from './observed.js';
import { reversePathProblems } from './reverse-path.js';
import { FAILOVER_TOOLS } from '../failover/keepalived.js';
import { failoverPreflight } from '../failover/preflight.js';

/**
 * The commands a run needs, by backend and family, and for removing what the other backend left
 * (`leftovers`, once the probe has looked).
 */
export function requiredTools(config: Config, backend: Observed['firewallBackend'], leftovers?: Observed['leftovers']): string[] {
  const tools = ['ip'];
  if (config.destinations) {
    if (backend === 'nftables') tools.push('nft');
    else tools.push(iptablesCommands(config.family).restore, iptablesCommands(config.family).save);
  }
  // The announcement: gratuitous ARP, or an unsolicited neighbour advertisement sent by perl
  // (perl-base is part of every Debian system), see announce.ts; with failover, keepalived's.
  if (config.failover) tools.push(...FAILOVER_TOOLS);
  else tools.push(config.family === 4 ? 'arping' : 'perl');
  for (const tool of leftoverTools(config, backend, leftovers)) if (!tools.includes(tool)) tools.push(tool);
  return tools;
}

export function preflight(config: Config, observed: Observed): Problem[] {
  const problems: Problem[] = [];
  const env = (where: string, message: string) => problems.push(problem('environment', where, message));
  const name = config.egressInterface;

  if (!observed.egress) {
    env(`interface ${name}`, `not found in this network namespace; refusing to configure a pod without its macvlan interface (check the pod's macvlan annotation or NetworkAttachmentDefinition, or set EGRESS_ROUTER_INTERFACE)`);
  } else if (observed.egress.kind !== 'macvlan') {
    env(`interface ${name}`, `is ${observed.egress.kind ? `a ${observed.egress.kind}` : 'not a macvlan'} interface; refusing to configure anything but a macvlan`);
  }
  if (!observed.cluster) {
    env(`interface ${config.clusterInterface}`, 'not found in this network namespace (the cluster interface; set EGRESS_ROUTER_CLUSTER_INTERFACE if it has another name)');
  }
  for (const tool of requiredTools(config, observed.firewallBackend, observed.leftovers)) {
    // failoverPreflight names the failover tools with what they are for.
    const failoverTool = (FAILOVER_TOOLS as readonly string[]).includes(tool);
    if (!observed.tools[tool] && !failoverTool) env(`command ${tool}`, 'not found on PATH; install it in the image');
  }
  if (!config.dryRun) {
    if (!observed.capabilities.netAdmin) {
      env('capability CAP_NET_ADMIN', 'missing; it is needed to configure addresses, routes and the firewall (securityContext.capabilities.add: [NET_ADMIN])');
    }
    // With failover, keepalived sends the announcements; failoverPreflight asks for it in its name.
    if (!observed.capabilities.netRaw && !config.failover) {
      const what = config.family === 4 ? 'gratuitous ARP' : 'unsolicited neighbour advertisements';
      env('capability CAP_NET_RAW', `missing; it is needed to send ${what} (securityContext.capabilities.add: [NET_RAW])`);
    }
  }
  if (forwards(config) && !preparesOnly(config) && observed.forwarding.value !== '1' && !observed.forwarding.writable) {
    env(`sysctl ${forwardingKey(config.family)}`, `is ${observed.forwarding.value || 'unreadable'} and /proc/sys is read-only here; enable it for the pod (securityContext.sysctls or the CNI) or run privileged`);
  }
  problems.push(...reversePathProblems(config, observed));
  if (config.failover) problems.push(...failoverPreflight(config, observed));
  return problems;
}
