/**
 * Loading rulesets rendered by the test itself into the router namespace of a topology, with the
 * real tools: `nft -f -` and `iptables-restore --noflush`. The router itself first configures
 * the pod (address, routes, reply routing) as it would in production; the test then replaces
 * or updates its firewall directly, so that names can have whatever answers the test chooses.
 */
import type { IpAddress } from '../../src/config/address.js';
import { type Config, parseConfig } from '../../src/config/config.js';
import { countersCommands, parseCounters, type FirewallCounters } from '../../src/firewall/counters.js';
import { IPTABLES_TABLES, emptySnapshot, parseSaveOutput, renderIptablesConverge, wantedSnapshot } from '../../src/firewall/iptables.js';
import { renderNftables } from '../../src/firewall/nftables.js';
import { type LocalPort, type Ruleset, type RulesetOptions, rulesetFor } from '../../src/firewall/ruleset.js';
import { formatProblem } from '../../src/problem.js';
import type { Topology } from './topology.js';
import { ADDRESSES, routerEnv } from './topology.js';

export type Backend = 'nftables' | 'iptables';

/** The configuration the router would read for this list, in the standard topology. */
export function configFor(destinations: string): Config {
  const parsed = parseConfig(routerEnv({ EGRESS_DESTINATION: destinations }), () => ({ ok: false, reason: 'no files here' }));
  if (!parsed.ok) throw new Error(parsed.problems.map(formatProblem).join('\n'));
  return parsed.value;
}

/** The ruleset for a list with these answers for its names. */
export function resolved(destinations: string, answers: Record<string, string[]>, options: RulesetOptions = {}): Ruleset {
  const addressesOf = (name: string): IpAddress[] | undefined => answers[name]?.map((text) => ({ family: 4, text }));
  return rulesetFor(configFor(destinations), addressesOf, options)!;
}

/** Runs the router once (init mode) so that the pod's network is configured; its own ruleset is replaced next. */
export async function configurePod(topology: Topology, backend: Backend): Promise<void> {
  const run = await topology.runRouter(routerEnv({ EGRESS_DESTINATION: `80 tcp ${ADDRESSES.destinations[0]}`, EGRESS_ROUTER_FIREWALL: backend }));
  if (run.exitCode !== 0) throw new Error(`the router could not configure the pod: ${run.stderr}`);
}

export async function loadNftables(topology: Topology, text: string): Promise<number> {
  const started = performance.now();
  await topology.exec(topology.ns.router, ['nft', '-f', '-'], text);
  return performance.now() - started;
}

export async function loadIptables(topology: Topology, ruleset: Ruleset): Promise<void> {
  const snapshot = emptySnapshot();
  for (const table of IPTABLES_TABLES) parseSaveOutput(table, await topology.exec(topology.ns.router, ['iptables-save', '-t', table]), snapshot);
  await topology.exec(topology.ns.router, ['iptables-restore', '--noflush'], renderIptablesConverge(snapshot, wantedSnapshot(ruleset)));
}

export async function load(topology: Topology, backend: Backend, ruleset: Ruleset): Promise<void> {
  if (backend === 'nftables') await loadNftables(topology, renderNftables(ruleset));
  else await loadIptables(topology, ruleset);
}

export async function readCounters(topology: Topology, backend: Backend, localPorts: readonly LocalPort[] = []): Promise<FirewallCounters> {
  const outputs: string[] = [];
  for (const argv of countersCommands(backend, 4)) outputs.push(await topology.exec(topology.ns.router, argv));
  const counters = parseCounters(backend, outputs, localPorts);
  if (!counters) throw new Error(`no counters in ${outputs.join('\n').slice(0, 500)}`);
  return counters;
}
