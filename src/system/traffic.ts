/**
 * Reading the traffic counters back from the kernel for a metrics scrape. The ruleset keeps them
 * (src/firewall); this only runs the listing command and hands the output to the pure parser.
 */
import type { Family } from '../config/address.js';
import { dropCounterCommand, parseDropCount } from '../firewall/drops.js';
import type { TrafficSnapshot } from '../observe/metrics.js';
import { runCommand } from './commands.js';

export async function readTraffic(backend: 'nftables' | 'iptables' | undefined, family: Family): Promise<TrafficSnapshot | undefined> {
  if (!backend) return undefined;
  const drops = await runCommand(dropCounterCommand(backend, family));
  if (!drops.ok) return undefined;
  return { rules: [], forwardDropped: parseDropCount(backend, drops.stdout) ?? 0 };
}
