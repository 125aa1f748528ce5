/**
 * Connection attempts left pointing at an address a rule no longer uses. When a health check
 * takes a dead server out (or a name stops resolving to it), the kernel's connection tracking
 * still holds every unanswered attempt that was translated to it: a client's retransmitted SYN,
 * or a new connection that happens to reuse a source port, matches that entry and keeps going to
 * the dead address. Deleting the attempts that never got an answer (TCP SYN_SENT) sends the next
 * SYN through the rules again, to a live address; established connections are left alone, so a
 * DNS change never cuts one. Pure: the commands; src/system runs them.
 */
import type { Family, IpAddress } from '../config/address.js';
import type { Protocol } from '../config/destinations.js';
import type { Ruleset } from './ruleset.js';
import { changedRules } from './update.js';

export interface StaleTarget {
  protocol: Protocol;
  port: number;
  address: IpAddress;
}

/** The (rule, address) pairs `next` no longer sends new connections to, for TCP rules. */
export function droppedTargets(previous: Ruleset | undefined, next: Ruleset | undefined): StaleTarget[] {
  if (!previous) return [];
  const empty: Ruleset = { ...previous, redirects: [] };
  const dropped: StaleTarget[] = [];
  for (const { before, after } of changedRules(previous, next ?? empty)) {
    if (!before || before.protocol !== 'tcp') continue;
    const kept = new Set((after?.targets ?? []).map((t) => t.text));
    for (const address of before.targets) if (!kept.has(address.text)) dropped.push({ protocol: before.protocol, port: before.port, address });
  }
  return dropped;
}

/** `conntrack -D` for one dropped target's unanswered attempts. */
export function forgetAttemptsCommand(target: StaleTarget, family: Family): string[] {
  return ['conntrack', '-D', '-f', family === 4 ? 'ipv4' : 'ipv6', '-p', target.protocol, '--orig-port-dst', String(target.port), '--reply-src', target.address.text, '--state', 'SYN_SENT'];
}
