/**
 * Runs the deletion of unanswered connection attempts to addresses the rules dropped
 * (src/firewall/stale-attempts.ts). `conntrack` (conntrack-tools) is optional: without it the
 * attempts expire on their own, and new connections reach live addresses once their source ports
 * no longer collide with a stale entry.
 */
import type { Logger } from 'pino';
import { type StaleTarget, forgetAttemptsCommand } from '../firewall/stale-attempts.js';
import type { Family } from '../config/address.js';
import { runCommand } from './commands.js';
import { onPath } from './probe.js';

let warned = false;

export async function forgetAttempts(targets: readonly StaleTarget[], family: Family, log: Logger): Promise<void> {
  if (targets.length === 0) return;
  if (!onPath('conntrack')) {
    if (!warned) log.info('conntrack not found: unanswered attempts to a dropped address expire on their own');
    warned = true;
    return;
  }
  for (const target of targets) {
    // conntrack exits 1 when nothing matched: that is no failure here.
    const result = await runCommand(forgetAttemptsCommand(target, family));
    const deleted = /(\d+) flow entries have been deleted/.exec(result.stderr)?.[1];
    log.debug({ target: `${target.protocol}/${target.port} -> ${target.address.text}`, deleted: deleted === undefined ? undefined : Number(deleted) }, 'forgot unanswered attempts to a dropped address');
  }
}
