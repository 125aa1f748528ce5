/**
 * When to start keepalived again after it ended on its own (pure): soon the first time, then
 * doubling, so a keepalived that cannot run does not spin; a run that lasted a while counts as
 * healthy and starts the sequence over.
 */
export const RESTART_BACKOFF = { firstMs: 500, maxMs: 30_000, healthyAfterMs: 60_000 } as const;

/** The delay before restart number `attempt` (0 for the first restart after a healthy run). */
export function restartDelayMs(attempt: number): number {
  return Math.min(RESTART_BACKOFF.maxMs, RESTART_BACKOFF.firstMs * 2 ** Math.min(attempt, 16));
}

/** The attempt number for the restart that follows a run of `uptimeMs`. */
export function nextAttempt(previousAttempt: number, uptimeMs: number): number {
  return uptimeMs >= RESTART_BACKOFF.healthyAfterMs ? 0 : previousAttempt + 1;
}
