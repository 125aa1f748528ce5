/**
 * The one scheduler every trigger goes through, after kube-proxy's bounded-frequency runner:
 * file changes, SIGHUP, DNS answers, health checks and the periodic safety net all call
 * `request()`, and the runner turns any burst of requests into one sync at a time, at most one
 * every `minIntervalMs`, with a full sync at least every `fullSyncEveryMs`.
 *
 * A request that arrives while a sync runs is not lost: it makes exactly one more sync once the
 * current one ends, so the last change is always applied. A sync that did not converge (it
 * returns false, or throws) is retried with exponential backoff, as a full sync.
 */

import type { Clock } from '../names/watcher.js';

export type SyncKind = 'partial' | 'full';

/** Timers, injectable so that tests run on a fake clock: the names watcher's clock. */
export type Timers = Clock;

/**
 * Real timers that, unlike the watcher's, keep the process alive: the runner's periodic full sync
 * is what a long-running router waits on.
 */
export const realTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface RunnerOptions {
  /** The shortest time between the starts of two syncs. */
  minIntervalMs: number;
  /** The longest time without a full sync; 0 turns the periodic full sync off. */
  fullSyncEveryMs: number;
  /** The first retry after a failed sync; doubled on every further failure, up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  /** Hears about a sync that threw (the sync is expected to report its own failures). */
  onError?: (error: unknown) => void;
  timers?: Timers;
}

export class SyncRunner {
  private readonly timers: Timers;
  private running: Promise<void> | undefined;
  private pending: SyncKind | undefined;
  private timer: unknown;
  private fullTimer: unknown;
  private retryTimer: unknown;
  private failures = 0;
  private lastStart = -Infinity;
  private stopped = false;

  constructor(
    private readonly sync: (kind: SyncKind) => Promise<boolean>,
    private readonly options: RunnerOptions,
  ) {
    this.timers = options.timers ?? realTimers;
    this.armFullSync();
  }

  /** Asks for a sync of what changed; a full sync asked for earlier is not downgraded. */
  request(kind: SyncKind = 'partial'): void {
    if (this.stopped) return;
    this.pending = this.pending === 'full' || kind === 'full' ? 'full' : 'partial';
    this.schedule();
  }

  /** Resolves when no sync is running or pending (for start-up and tests). */
  async idle(): Promise<void> {
    while (this.running || (this.pending && !this.stopped)) {
      if (this.running) await this.running;
      else await new Promise((resolve) => this.timers.setTimeout(() => resolve(undefined), 1));
    }
  }

  /** No more syncs; resolves once the one running (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pending = undefined;
    this.timers.clearTimeout(this.timer);
    this.timers.clearTimeout(this.fullTimer);
    this.timers.clearTimeout(this.retryTimer);
    await this.running;
  }

  private schedule(): void {
    if (this.running || this.timer !== undefined || this.pending === undefined) return;
    const wait = Math.max(0, this.lastStart + this.options.minIntervalMs - this.timers.now());
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.runPending();
    }, wait);
  }

  private async runPending(): Promise<void> {
    const kind = this.pending;
    if (kind === undefined || this.stopped) return;
    this.pending = undefined;
    this.lastStart = this.timers.now();
    if (kind === 'full') this.armFullSync();
    let done!: () => void;
    this.running = new Promise((resolve) => (done = resolve));
    let converged = false;
    try {
      converged = await this.sync(kind);
    } catch (error) {
      this.options.onError?.(error);
    } finally {
      this.running = undefined;
      done();
    }
    if (converged) this.failures = 0;
    else this.retryLater();
    this.schedule();
  }

  private retryLater(): void {
    if (this.stopped) return;
    const first = this.options.retryMs ?? 1000;
    const delay = Math.min(first * 2 ** this.failures, this.options.maxRetryMs ?? 30_000);
    this.failures++;
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = this.timers.setTimeout(() => this.request('full'), delay);
  }

  private armFullSync(): void {
    this.timers.clearTimeout(this.fullTimer);
    if (this.options.fullSyncEveryMs <= 0 || this.stopped) return;
    this.fullTimer = this.timers.setTimeout(() => this.request('full'), this.options.fullSyncEveryMs);
  }
}
