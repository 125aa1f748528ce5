/**
 * Reading the traffic counters back from the kernel for a metrics scrape. The ruleset keeps them
 * (src/firewall/counters.ts parses them); this only runs the listing commands.
 *
 * Only rulesets with per-rule counters (lists of up to 1,000 rules by default) are read: with
 * nft 1.0.6 any listing, even of one counter, reads every map element, which takes seconds and
 * hundreds of megabytes at 100,000 rules; a scrape must not cost that.
 */
import { countersCommands, parseCounters } from '../firewall/counters.js';
import type { Ruleset } from '../firewall/ruleset.js';
import type { RuleTraffic, TrafficSnapshot } from '../observe/metrics.js';
import { runCommand } from './commands.js';

export async function readTraffic(backend: 'nftables' | 'iptables' | undefined, ruleset: Ruleset | undefined): Promise<TrafficSnapshot | undefined> {
  if (!backend || !ruleset?.perRuleCounters) return undefined;
  const outputs: string[] = [];
  for (const argv of countersCommands(backend, ruleset.family)) {
    const result = await runCommand(argv);
    if (!result.ok) return undefined;
    outputs.push(result.stdout);
  }
  const counters = parseCounters(backend, outputs, ruleset.localPorts);
  if (!counters) return undefined;
  const rules: RuleTraffic[] = counters.rules.map((r) => ({ protocol: r.protocol, port: r.port, connections: r.connections, out: r.out, in: r.in }));
  if (ruleset.fallback) rules.push({ protocol: 'any', port: 'fallback', connections: counters.fallback.connections, out: counters.fallback.out, in: counters.fallback.in });
  return { rules, forwardDropped: counters.forwardDropped };
}
