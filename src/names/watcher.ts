/**
 * Keeps a set of names fresh: each is looked up when its answer runs out (schedule.ts decides
 * when, and what a failure or an empty answer does), one lookup per name at a time. Users read
 * the current addresses and hear about changes; they never wait for a lookup.
 *
 * Several users may share one watcher (the redirect engine and the DNS proxy, say): each
 * watches its own set under its own owner key, and the watcher follows their union.
 */
import type { Logger } from 'pino';
import type { Family, IpAddress } from '../config/address.js';
import type { NameResolver } from './resolver.js';
import { type LookupOutcome, type NameRecord, type SchedulePolicy, DEFAULT_POLICY, PENDING, afterLookup, changed } from './schedule.js';

/** Time and timers, injectable so that unit tests run on a fake clock. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock; its timers do not keep the process alive by themselves. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface NameStatus {
  name: string;
  /** The addresses to use now: the latest good answer, kept through failed lookups. */
  addresses: IpAddress[];
  /** Whether the name has had an answer yet (addresses, NXDOMAIN or NODATA). */
  resolved: boolean;
  /** The latest lookup's outcome; `pending` until the first one is in. */
  last: LookupOutcome;
  /** Why the latest lookup gave no addresses. */
  error?: string;
  /** When the addresses were last confirmed by an answer (clock milliseconds). */
  answeredAt?: number;
  /** When the next lookup is due (clock milliseconds). */
  nextLookupAt?: number;
}

export type NameListener = (status: NameStatus) => void;

export interface NameWatcherOptions {
  resolver: NameResolver;
  family: Family;
  policy?: SchedulePolicy;
  clock?: Clock;
  /** In [0, 1); the jitter of retry delays. */
  random?: () => number;
  log?: Logger;
}

interface Entry {
  record: NameRecord;
  timer?: unknown;
  nextLookupAt?: number;
  /** A lookup is in flight; its result is dropped if the name was forgotten meanwhile. */
  inFlight: boolean;
  /** The first lookup is done (answer or failure), as `firstLookups` waits for. */
  settled: boolean;
}

export class NameWatcher {
  private readonly entries = new Map<string, Entry>();
  private readonly owners = new Map<string, Set<string>>();
  private readonly listeners = new Set<NameListener>();
  private readonly settleWaiters = new Set<() => void>();
  private readonly clock: Clock;
  private readonly policy: SchedulePolicy;
  private readonly random: () => number;
  private stopped = false;

  constructor(private readonly options: NameWatcherOptions) {
    this.clock = options.clock ?? systemClock;
    this.policy = options.policy ?? DEFAULT_POLICY;
    this.random = options.random ?? Math.random;
  }

  get family(): Family {
    return this.options.family;
  }

  /** Makes `names` the set `owner` watches: new names are looked up at once, dropped ones forgotten. */
  watch(names: Iterable<string>, owner = 'default'): void {
    if (this.stopped) return;
    this.owners.set(owner, new Set(names));
    const wanted = new Set([...this.owners.values()].flatMap((set) => [...set]));
    for (const [name, entry] of this.entries) {
      if (wanted.has(name)) continue;
      if (entry.timer !== undefined) this.clock.clearTimeout(entry.timer);
      this.entries.delete(name);
    }
    for (const name of wanted) {
      if (this.entries.has(name)) continue;
      this.entries.set(name, { record: PENDING, inFlight: false, settled: false });
      void this.lookup(name);
    }
    this.notifySettled();
  }

  /** The names watched, by every owner. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** What is known about a watched name; undefined for a name nobody watches. */
  current(name: string): NameStatus | undefined {
    const entry = this.entries.get(name);
    return entry && this.status(name, entry);
  }

  /** Calls `listener` whenever a name's addresses, or whether it resolves or fails, change. */
  onChange(listener: NameListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves once every watched name has had its first lookup (an answer or a failure), or after
   * `timeoutMs`, with the names still waiting for theirs. For start-up: a name that takes long
   * should not hold the others back.
   */
  firstLookups(timeoutMs: number): Promise<string[]> {
    const pending = () => [...this.entries].filter(([, e]) => !e.settled).map(([name]) => name);
    if (pending().length === 0 || this.stopped) return Promise.resolve(pending());
    return new Promise((resolve) => {
      const done = () => {
        this.settleWaiters.delete(check);
        this.clock.clearTimeout(timer);
        resolve(pending());
      };
      const check = () => {
        if (pending().length === 0) done();
      };
      const timer = this.clock.setTimeout(done, timeoutMs);
      this.settleWaiters.add(check);
    });
  }

  /** Stops every timer; lookups in flight are ignored when they end. */
  stop(): void {
    this.stopped = true;
    for (const entry of this.entries.values()) if (entry.timer !== undefined) this.clock.clearTimeout(entry.timer);
    this.entries.clear();
    for (const waiter of [...this.settleWaiters]) waiter();
    this.listeners.clear();
  }

  private status(name: string, entry: Entry): NameStatus {
    const { addresses, resolved, last, error, answeredAt } = entry.record;
    return { name, addresses, resolved, last, error, answeredAt, nextLookupAt: entry.nextLookupAt };
  }

  private async lookup(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry || entry.inFlight) return;
    entry.inFlight = true;
    entry.timer = undefined;
    entry.nextLookupAt = undefined;
    let outcome;
    try {
      outcome = await this.options.resolver.resolve(name, this.options.family);
    } catch (error) {
      outcome = { ok: false as const, kind: 'failure' as const, reason: `lookup failed: ${(error as Error).message}` };
    }
    // Forgotten (or forgotten and watched again) while the lookup was out: not ours any more.
    if (this.stopped || this.entries.get(name) !== entry) return;
    entry.inFlight = false;
    const previous = entry.record;
    const { record, delayMs } = afterLookup(previous, outcome, this.clock.now(), this.policy, this.random);
    entry.record = record;
    entry.nextLookupAt = this.clock.now() + delayMs;
    entry.timer = this.clock.setTimeout(() => void this.lookup(name), delayMs);
    this.logOutcome(name, previous, record, delayMs);
    const firstOutcome = !entry.settled;
    entry.settled = true;
    if (changed(previous, record)) {
      const status = this.status(name, entry);
      for (const listener of [...this.listeners]) listener(status);
    }
    if (firstOutcome) this.notifySettled();
  }

  private notifySettled(): void {
    for (const waiter of [...this.settleWaiters]) waiter();
  }

  /** Logs what changed, and each first failure of a run; repeated failures stay at debug. */
  private logOutcome(name: string, previous: NameRecord, record: NameRecord, delayMs: number): void {
    const log = this.options.log;
    if (!log) return;
    const fields = { host: name, family: this.options.family, addresses: record.addresses.map((a) => a.text), nextLookupMs: delayMs };
    if (record.last === 'failure') {
      const kept = record.addresses.length > 0 ? 'keeping the last answer' : 'no addresses yet';
      if (record.failures === 1) log.warn({ ...fields, error: record.error }, `lookup of ${name} failed; ${kept}, retrying with backoff`);
      else log.debug({ ...fields, error: record.error, failures: record.failures }, `lookup of ${name} failed again`);
    } else if (changed(previous, record)) {
      if (record.addresses.length > 0) log.info(fields, `${name} resolved to ${fields.addresses.join(', ')}`);
      else log.warn({ ...fields, error: record.error }, `${name} has no IPv${this.options.family} addresses: ${record.error}`);
    } else if (record.last !== 'ok' && record.emptyAnswers === 1 && previous.addresses.length > 0) {
      log.warn({ ...fields, error: record.error }, `${name}: ${record.error}`);
    } else {
      log.debug(fields, `${name} looked up, unchanged`);
    }
  }
}
