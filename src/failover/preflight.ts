/**
 * What failover adds to the router's preflight check (pure): keepalived and its helpers on PATH,
 * and CAP_NET_RAW for every family (the base check's own CAP_NET_RAW message, about the router's
 * announcements, is left out with failover on: keepalived sends them).
 *
 * keepalived needs exactly what the router already holds: CAP_NET_ADMIN to add and delete the
 * source address, CAP_NET_RAW for its VRRP socket (IP protocol 112) and its gratuitous ARP or
 * neighbour advertisement socket. Without CAP_NET_RAW it exits at start ("missing permission");
 * without CAP_NET_ADMIN it would even report MASTER without the address, so the base preflight's
 * CAP_NET_ADMIN check (always made) is what keeps that from happening. Nothing else: no
 * SYS_NICE (no real-time scheduling configured), no IPC_LOCK, no writes to /proc/sys.
 */
import type { Config } from '../config/config.js';
import type { Observed } from '../plan/observed.js';
import { type Problem, problem } from '../problem.js';
import { FAILOVER_TOOLS } from './keepalived.js';

export function failoverPreflight(config: Config, observed: Pick<Observed, 'tools' | 'capabilities'>): Problem[] {
  const problems: Problem[] = [];
  for (const tool of FAILOVER_TOOLS) {
    if (!observed.tools[tool]) {
      problems.push(problem('environment', `command ${tool}`, 'not found on PATH; failover (EGRESS_ROUTER_VRRP_ID) needs keepalived, setpriv (util-linux) and mkfifo (coreutils) in the image'));
    }
  }
  // In place of the base preflight's check, which names the router's own announcement.
  if (!config.dryRun && !observed.capabilities.netRaw) {
    const announcements = config.family === 4 ? 'gratuitous ARP' : 'unsolicited neighbour advertisements';
    problems.push(problem('environment', 'capability CAP_NET_RAW', `missing; failover (EGRESS_ROUTER_VRRP_ID) needs it for keepalived's VRRP advertisements and ${announcements} (securityContext.capabilities.add: [NET_RAW])`));
  }
  return problems;
}
