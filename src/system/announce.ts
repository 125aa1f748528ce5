/**
 * Announcements without waiting: arping sends at once and then idles for a second, so the
 * router starts it (or the neighbour advertisement, src/plan/announce.ts), waits only until the
 * interface's transmit counter shows the packets left (a few milliseconds), and goes on.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { startDetached } from './commands.js';

function transmitted(device: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/class/net/${device}/statistics/tx_packets`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** How long to wait for the sender when the transmit counter cannot be read. */
const UNCOUNTED_WAIT_MS = 50;

/** Starts the announcements; resolves once they were sent, or after `maxWaitMs` at the latest. */
export async function announce(commands: string[][], device: string, log: Logger, maxWaitMs = 250): Promise<void> {
  if (commands.length === 0) return;
  // The Perl program of the neighbour advertisement is logged by name, not as its whole text.
  const named = commands.map((c) => (c[0] === 'perl' ? ['perl', 'neighbour advertisement', ...c.slice(3)] : c).join(' '));
  const before = transmitted(device);
  commands.forEach((argv, i) => {
    startDetached(argv, (error) => log.warn({ command: named[i], error }, 'announcement could not start'));
  });
  // Without the counter (no sysfs for this namespace), give arping the few milliseconds it needs
  // to send before a short-lived container's exit would take it down.
  if (before === undefined) await new Promise((resolve) => setTimeout(resolve, UNCOUNTED_WAIT_MS));
  const deadline = performance.now() + maxWaitMs;
  while (before !== undefined && performance.now() < deadline) {
    const now = transmitted(device);
    if (now !== undefined && now - before >= commands.length) break;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  log.info({ step: 'announce', commands: named }, 'announced the source address');
}
