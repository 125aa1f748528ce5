/**
 * TCP health checks of destination addresses, with haproxy's defaults: a check every 2 s, a
 * target out after 3 consecutive failed checks and back after 2 consecutive good ones. New
 * targets start up, as haproxy's servers do, so that a destination works from the first second.
 *
 * Two choices beyond haproxy's defaults, both for the "a dead server out within 6 s":
 * a check gives up connecting after 1 s (a server that needs longer to accept a connection is
 * not healthy), and while a target is changing state (one failed check while up, one good check
 * while down) the next check comes 1 s after the last one started instead of 2 s (haproxy's
 * `fastinter`). A server that dies is then out within 2 + 1 + 1 + 1 = 5 s, 4 s on average.
 */
import type { Logger } from 'pino';
import { type IpAddress, withPort } from '../config/address.js';
import { type Clock, systemClock } from '../names/watcher.js';

export interface HealthTarget {
  address: IpAddress;
  port: number;
}

export type CheckResult = { ok: true } | { ok: false; reason: string };

/** Tries one TCP connection to the target and closes it; never rejects. */
export type ConnectFunction = (target: HealthTarget, timeoutMs: number) => Promise<CheckResult>;

export interface HealthPolicy {
  intervalMs: number;
  /** The interval while a target is between states. */
  fastIntervalMs: number;
  /** How long a check may take to connect; at most the fast interval. */
  timeoutMs: number;
  /** Consecutive failed checks that take a target out. */
  fall: number;
  /** Consecutive good checks that bring it back. */
  rise: number;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = { intervalMs: 2000, fastIntervalMs: 1000, timeoutMs: 1000, fall: 3, rise: 2 };

export interface TargetHealth {
  up: boolean;
  /** Consecutive failed checks (counted while up). */
  failures: number;
  /** Consecutive good checks (counted while down). */
  successes: number;
  /** Why the latest failed check failed. */
  lastError?: string;
}

export const targetKey = (target: HealthTarget): string => withPort(target.address, target.port);

/** The state after one check. Pure. */
export function afterCheck(health: TargetHealth, result: CheckResult, policy: HealthPolicy): TargetHealth {
  if (result.ok) {
    const successes = health.up ? 0 : health.successes + 1;
    if (!health.up && successes >= policy.rise) return { up: true, failures: 0, successes: 0 };
    return { up: health.up, failures: 0, successes, lastError: health.up ? undefined : health.lastError };
  }
  const failures = health.up ? health.failures + 1 : 0;
  if (health.up && failures >= policy.fall) return { up: false, failures: 0, successes: 0, lastError: result.reason };
  return { up: health.up, failures, successes: 0, lastError: result.reason };
}

/** The delay from the start of one check to the start of the next. */
export function checkInterval(health: TargetHealth, policy: HealthPolicy): number {
  const between = health.up ? health.failures > 0 : health.successes > 0;
  return between ? policy.fastIntervalMs : policy.intervalMs;
}

export type HealthListener = (target: HealthTarget, health: TargetHealth) => void;

export interface HealthCheckerOptions {
  connect: ConnectFunction;
  policy?: HealthPolicy;
  clock?: Clock;
  log?: Logger;
}

interface Entry {
  target: HealthTarget;
  health: TargetHealth;
  timer?: unknown;
}

export class HealthChecker {
  private readonly entries = new Map<string, Entry>();
  private readonly owners = new Map<string, HealthTarget[]>();
  private readonly listeners = new Set<HealthListener>();
  private readonly clock: Clock;
  private readonly policy: HealthPolicy;
  private stopped = false;

  constructor(private readonly options: HealthCheckerOptions) {
    this.clock = options.clock ?? systemClock;
    this.policy = options.policy ?? DEFAULT_HEALTH_POLICY;
  }

  /** Makes `targets` the set `owner` checks: new ones start up and are checked at once. */
  watch(targets: readonly HealthTarget[], owner = 'default'): void {
    if (this.stopped) return;
    this.owners.set(owner, [...targets]);
    const wanted = new Map<string, HealthTarget>();
    for (const list of this.owners.values()) for (const target of list) wanted.set(targetKey(target), target);
    for (const [key, entry] of this.entries) {
      if (wanted.has(key)) continue;
      if (entry.timer !== undefined) this.clock.clearTimeout(entry.timer);
      this.entries.delete(key);
    }
    for (const [key, target] of wanted) {
      if (this.entries.has(key)) continue;
      const entry: Entry = { target, health: { up: true, failures: 0, successes: 0 } };
      this.entries.set(key, entry);
      void this.check(key, entry);
    }
  }

  /** Whether the target takes connections; a target nobody checks counts as up. */
  isUp(target: HealthTarget): boolean {
    return this.entries.get(targetKey(target))?.health.up ?? true;
  }

  health(target: HealthTarget): TargetHealth | undefined {
    return this.entries.get(targetKey(target))?.health;
  }

  targets(): { target: HealthTarget; health: TargetHealth }[] {
    return [...this.entries.values()].map(({ target, health }) => ({ target, health }));
  }

  /** Calls `listener` when a target goes down or comes back up. */
  onChange(listener: HealthListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stop(): void {
    this.stopped = true;
    for (const entry of this.entries.values()) if (entry.timer !== undefined) this.clock.clearTimeout(entry.timer);
    this.entries.clear();
    this.listeners.clear();
  }

  private async check(key: string, entry: Entry): Promise<void> {
    entry.timer = undefined;
    const started = this.clock.now();
    let result: CheckResult;
    try {
      result = await this.options.connect(entry.target, this.policy.timeoutMs);
    } catch (error) {
      result = { ok: false, reason: (error as Error).message };
    }
    if (this.stopped || this.entries.get(key) !== entry) return;
    const before = entry.health;
    entry.health = afterCheck(before, result, this.policy);
    const delay = Math.max(0, started + checkInterval(entry.health, this.policy) - this.clock.now());
    entry.timer = this.clock.setTimeout(() => void this.check(key, entry), delay);
    if (entry.health.up === before.up) return;
    const log = this.options.log;
    if (entry.health.up) log?.info({ target: key }, `${key} is up again after ${this.policy.rise} good health checks`);
    else log?.warn({ target: key, error: entry.health.lastError }, `${key} is down after ${this.policy.fall} failed health checks (${entry.health.lastError})`);
    for (const listener of [...this.listeners]) listener(entry.target, entry.health);
  }
}
