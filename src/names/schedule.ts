/**
 * When to look a name up again, and what to keep from its answers. Pure: the watcher
 * (watcher.ts) runs the timers, this module only decides.
 *
 * - An answer with addresses is used until its TTL runs out, clamped to a floor and a ceiling.
 *   The floor (5 s) keeps a name served with TTL 0 or 1 from costing the cluster DNS a query per
 *   connection; the ceiling (300 s) bounds how long a changed record can go unnoticed when its
 *   owner serves long TTLs. Both are settings (EGRESS_ROUTER_DNS_MIN_TTL, EGRESS_ROUTER_DNS_MAX_TTL).
 * - A failed lookup (timeout, refused, SERVFAIL) says nothing about the name: the last good
 *   answer is kept, however old, and the lookup is retried with exponential backoff and jitter.
 *   A cluster DNS outage must not cut a pod off its destinations; addresses that stop accepting
 *   are taken out by the health checks, not by the resolver.
 * - NXDOMAIN and NODATA are answers: the name has no addresses now. A name that had addresses
 *   loses them only when a second empty answer, asked for one second later, confirms the first,
 *   so that one glitch of a reloading DNS server does not cut every connection; a name that never
 *   had addresses is empty at once. Keeping the old addresses longer would send traffic to
 *   addresses their owner has given up, possibly to someone else.
 */
import type { IpAddress } from '../config/address.js';
import { type Environment } from '../config/config.js';
import { type Problem, type Result, fail, ok, problem, quote } from '../problem.js';
import type { Resolution } from './resolver.js';

export interface TtlBounds {
  minSeconds: number;
  maxSeconds: number;
}

export const DEFAULT_TTL_BOUNDS: TtlBounds = { minSeconds: 5, maxSeconds: 300 };

/** A day: a longer floor or ceiling would be a typo rather than a choice. */
const MAX_BOUND_SECONDS = 86_400;

export interface BackoffPolicy {
  /** The delay after the first failure, and before an empty answer's confirmation. */
  initialMs: number;
  /** The delay never grows past this. */
  maxMs: number;
  /** Each delay is shortened by up to this fraction, at random, so that names spread out. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, jitter: 0.2 };

/** Consecutive empty answers (NXDOMAIN, NODATA) that take a name's last good addresses away. */
export const EMPTY_ANSWERS_TO_FORGET = 2;

export interface SchedulePolicy {
  bounds: TtlBounds;
  backoff: BackoffPolicy;
}

export const DEFAULT_POLICY: SchedulePolicy = { bounds: DEFAULT_TTL_BOUNDS, backoff: DEFAULT_BACKOFF };

const isSet = (value: string | undefined): value is string => value !== undefined && value !== '';

function parseSeconds(env: Environment, name: string, problems: Problem[]): number | undefined {
  const text = env[name];
  if (!isSet(text)) return undefined;
  const trimmed = text.trim();
  const value = /^[1-9][0-9]{0,5}$/.test(trimmed) ? Number(trimmed) : NaN;
  if (Number.isInteger(value) && value <= MAX_BOUND_SECONDS) return value;
  problems.push(problem('config', name, `invalid value ${quote(text)}; use a whole number of seconds from 1 to ${MAX_BOUND_SECONDS}`));
  return undefined;
}

/**
 * EGRESS_ROUTER_DNS_MIN_TTL and EGRESS_ROUTER_DNS_MAX_TTL, in seconds. Setting only one of them
 * past the other's default moves that default along, so `MIN_TTL=600` alone is not an error.
 */
export function parseTtlBounds(env: Environment): Result<TtlBounds> {
  const problems: Problem[] = [];
  const min = parseSeconds(env, 'EGRESS_ROUTER_DNS_MIN_TTL', problems);
  const max = parseSeconds(env, 'EGRESS_ROUTER_DNS_MAX_TTL', problems);
  if (problems.length > 0) return fail(...problems);
  if (min !== undefined && max !== undefined && min > max) {
    return fail(problem('config', 'EGRESS_ROUTER_DNS_MIN_TTL', `${min} s is above EGRESS_ROUTER_DNS_MAX_TTL (${max} s); the floor must not exceed the ceiling`));
  }
  const minSeconds = min ?? Math.min(DEFAULT_TTL_BOUNDS.minSeconds, max ?? Infinity);
  const maxSeconds = max ?? Math.max(DEFAULT_TTL_BOUNDS.maxSeconds, minSeconds);
  return ok({ minSeconds, maxSeconds });
}

/** How long an answer with this TTL is used, in milliseconds. */
export function refreshDelayMs(ttlSeconds: number, bounds: TtlBounds): number {
  return Math.min(Math.max(ttlSeconds, bounds.minSeconds), bounds.maxSeconds) * 1000;
}

/** The delay before retry number `failures` (1 for the first), `random` in [0, 1). */
export function retryDelayMs(failures: number, backoff: BackoffPolicy, random: () => number): number {
  const exponential = backoff.initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30);
  const capped = Math.min(exponential, backoff.maxMs);
  return Math.round(capped * (1 - backoff.jitter * random()));
}

export type LookupOutcome = 'pending' | 'ok' | 'nxdomain' | 'nodata' | 'failure';

/** What is known about one name. */
export interface NameRecord {
  /** The addresses to use now (sorted, so that a reordered answer is no change). */
  addresses: IpAddress[];
  /** Whether the name has had an answer (addresses, NXDOMAIN or NODATA); failures are none. */
  resolved: boolean;
  /** The outcome of the latest lookup. */
  last: LookupOutcome;
  /** Why the latest lookup gave no addresses; undefined after a good answer. */
  error?: string;
  /** Consecutive failed lookups. */
  failures: number;
  /** Consecutive empty answers. */
  emptyAnswers: number;
  /** When the addresses in use were last confirmed by an answer (clock milliseconds). */
  answeredAt?: number;
}

export const PENDING: NameRecord = { addresses: [], resolved: false, last: 'pending', failures: 0, emptyAnswers: 0 };

const byText = (a: IpAddress, b: IpAddress) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0);

/** The record after a lookup's outcome, and the delay until the next lookup. */
export function afterLookup(
  previous: NameRecord,
  outcome: Resolution,
  now: number,
  policy: SchedulePolicy,
  random: () => number,
): { record: NameRecord; delayMs: number } {
  if (outcome.ok) {
    return {
      record: { addresses: [...outcome.addresses].sort(byText), resolved: true, last: 'ok', failures: 0, emptyAnswers: 0, answeredAt: now },
      delayMs: refreshDelayMs(outcome.ttlSeconds, policy.bounds),
    };
  }
  if (outcome.kind === 'failure') {
    const failures = previous.failures + 1;
    return {
      record: { ...previous, last: 'failure', error: outcome.reason, failures, emptyAnswers: 0 },
      delayMs: retryDelayMs(failures, policy.backoff, random),
    };
  }
  const emptyAnswers = previous.emptyAnswers + 1;
  if (previous.addresses.length > 0 && emptyAnswers < EMPTY_ANSWERS_TO_FORGET) {
    // Unconfirmed: keep the addresses, and ask again soon rather than at the floor.
    return {
      record: { ...previous, last: outcome.kind, error: `${outcome.reason} (once; the last answer is kept until a second lookup confirms it)`, failures: 0, emptyAnswers },
      delayMs: policy.backoff.initialMs,
    };
  }
  return {
    record: { addresses: [], resolved: true, last: outcome.kind, error: outcome.reason, failures: 0, emptyAnswers, answeredAt: now },
    delayMs: policy.bounds.minSeconds * 1000,
  };
}

/** Whether two records differ in what users of the name see: the addresses, or the status. */
export function changed(a: NameRecord, b: NameRecord): boolean {
  if (a.resolved !== b.resolved) return true;
  if ((a.last === 'failure') !== (b.last === 'failure')) return true;
  if (a.addresses.length !== b.addresses.length) return true;
  return a.addresses.some((address, i) => address.text !== b.addresses[i]!.text);
}
