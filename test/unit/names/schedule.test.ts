/** The resolution schedule: TTL clamping, backoff, and what failures and empty answers keep. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_POLICY,
  PENDING,
  afterLookup,
  changed,
  parseTtlBounds,
  refreshDelayMs,
  retryDelayMs,
} from '../../../src/names/schedule.js';
import type { Resolution } from '../../../src/names/resolver.js';

const v4 = (text: string) => ({ family: 4 as const, text });
const answer = (ttlSeconds: number, ...addresses: string[]): Resolution => ({ ok: true, addresses: addresses.map(v4), ttlSeconds });
const failure: Resolution = { ok: false, kind: 'failure', reason: 'lookup failed: ETIMEOUT' };
const nxdomain: Resolution = { ok: false, kind: 'nxdomain', reason: 'no such name' };
const nodata: Resolution = { ok: false, kind: 'nodata', reason: 'no A records' };
const noJitter = () => 0;

describe('TTL bounds from the environment', () => {
  it('defaults to a 5 s floor and a 300 s ceiling', () => {
    expect(parseTtlBounds({})).toEqual({ ok: true, value: { minSeconds: 5, maxSeconds: 300 } });
  });

  it('reads EGRESS_ROUTER_DNS_MIN_TTL and EGRESS_ROUTER_DNS_MAX_TTL in seconds', () => {
    expect(parseTtlBounds({ EGRESS_ROUTER_DNS_MIN_TTL: '1', EGRESS_ROUTER_DNS_MAX_TTL: ' 60 ' })).toEqual({ ok: true, value: { minSeconds: 1, maxSeconds: 60 } });
  });

  it('moves the other default along when only one is set past it', () => {
    expect(parseTtlBounds({ EGRESS_ROUTER_DNS_MIN_TTL: '600' })).toEqual({ ok: true, value: { minSeconds: 600, maxSeconds: 600 } });
    expect(parseTtlBounds({ EGRESS_ROUTER_DNS_MAX_TTL: '2' })).toEqual({ ok: true, value: { minSeconds: 2, maxSeconds: 2 } });
  });

  it('refuses a floor above the ceiling, naming both', () => {
    const result = parseTtlBounds({ EGRESS_ROUTER_DNS_MIN_TTL: '60', EGRESS_ROUTER_DNS_MAX_TTL: '30' });
    expect(result.ok ? [] : result.problems).toEqual([
      { kind: 'config', where: 'EGRESS_ROUTER_DNS_MIN_TTL', message: '60 s is above EGRESS_ROUTER_DNS_MAX_TTL (30 s); the floor must not exceed the ceiling' },
    ]);
  });

  it.each(['0', '-5', '1.5', '5s', '1e3', '086400', '86401', 'five'])('refuses %j, every variable at once', (text) => {
    const result = parseTtlBounds({ EGRESS_ROUTER_DNS_MIN_TTL: text, EGRESS_ROUTER_DNS_MAX_TTL: text });
    expect(result.ok ? [] : result.problems.map((p) => p.where)).toEqual(['EGRESS_ROUTER_DNS_MIN_TTL', 'EGRESS_ROUTER_DNS_MAX_TTL']);
    expect(result.ok ? '' : result.problems[0]!.message).toContain('use a whole number of seconds from 1 to 86400');
  });
});

describe('refresh at TTL expiry', () => {
  const bounds = { minSeconds: 5, maxSeconds: 300 };
  it('follows the TTL between the floor and the ceiling', () => expect(refreshDelayMs(42, bounds)).toBe(42_000));
  it('raises a short TTL to the floor', () => expect(refreshDelayMs(0, bounds)).toBe(5_000));
  it('lowers a long TTL to the ceiling', () => expect(refreshDelayMs(86_400, bounds)).toBe(300_000));
});

describe('retry backoff', () => {
  const backoff = { initialMs: 1000, maxMs: 30_000, jitter: 0.2 };
  it('doubles from the initial delay up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => retryDelayMs(n, backoff, noJitter))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('shortens each delay by at most the jitter fraction', () => {
    expect(retryDelayMs(3, backoff, () => 0.999)).toBe(3201);
    expect(retryDelayMs(3, backoff, () => 0.5)).toBe(3600);
  });
});

describe('a lookup outcome', () => {
  it('uses an answer until its clamped TTL, sorted so that a reordered answer is no change', () => {
    const { record, delayMs } = afterLookup(PENDING, answer(30, '192.0.2.2', '192.0.2.1'), 1000, DEFAULT_POLICY, noJitter);
    expect(record).toEqual({ addresses: [v4('192.0.2.1'), v4('192.0.2.2')], resolved: true, last: 'ok', failures: 0, emptyAnswers: 0, answeredAt: 1000 });
    expect(delayMs).toBe(30_000);
    const again = afterLookup(record, answer(30, '192.0.2.1', '192.0.2.2'), 2000, DEFAULT_POLICY, noJitter).record;
    expect(changed(record, again)).toBe(false);
  });

  it('keeps the last good answer through failures, retrying with growing delays', () => {
    let state = afterLookup(PENDING, answer(60, '192.0.2.1'), 0, DEFAULT_POLICY, noJitter).record;
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const next = afterLookup(state, failure, 0, DEFAULT_POLICY, noJitter);
      state = next.record;
      delays.push(next.delayMs);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000]);
    expect(state).toMatchObject({ addresses: [v4('192.0.2.1')], resolved: true, last: 'failure', error: 'lookup failed: ETIMEOUT', failures: 4 });
  });

  it('treats a failure before any answer as not resolved, with no addresses', () => {
    const { record } = afterLookup(PENDING, failure, 0, DEFAULT_POLICY, noJitter);
    expect(record).toMatchObject({ addresses: [], resolved: false, last: 'failure' });
  });

  it('empties a name that never had addresses at the first NXDOMAIN, and looks again at the floor', () => {
    const { record, delayMs } = afterLookup(PENDING, nxdomain, 0, DEFAULT_POLICY, noJitter);
    expect(record).toMatchObject({ addresses: [], resolved: true, last: 'nxdomain', error: 'no such name' });
    expect(delayMs).toBe(5000);
  });

  it('keeps good addresses through one empty answer, confirms it a second later, and empties them at the second', () => {
    const good = afterLookup(PENDING, answer(60, '192.0.2.1'), 0, DEFAULT_POLICY, noJitter).record;
    const once = afterLookup(good, nodata, 60_000, DEFAULT_POLICY, noJitter);
    expect(once.record.addresses).toEqual([v4('192.0.2.1')]);
    expect(once.record.error).toContain('no A records (once;');
    expect(once.delayMs).toBe(1000);
    expect(changed(good, once.record)).toBe(false);
    const twice = afterLookup(once.record, nxdomain, 61_000, DEFAULT_POLICY, noJitter);
    expect(twice.record).toMatchObject({ addresses: [], resolved: true, last: 'nxdomain' });
    expect(changed(once.record, twice.record)).toBe(true);
  });

  it('forgets an unconfirmed empty answer when the next lookup has addresses again', () => {
    const good = afterLookup(PENDING, answer(60, '192.0.2.1'), 0, DEFAULT_POLICY, noJitter).record;
    const once = afterLookup(good, nxdomain, 0, DEFAULT_POLICY, noJitter).record;
    const back = afterLookup(once, answer(60, '192.0.2.1'), 0, DEFAULT_POLICY, noJitter).record;
    const onceMore = afterLookup(back, nxdomain, 0, DEFAULT_POLICY, noJitter).record;
    expect(onceMore.addresses).toEqual([v4('192.0.2.1')]);
  });

  it('counts a failure and its recovery as status changes, even with the same addresses', () => {
    const good = afterLookup(PENDING, answer(60, '192.0.2.1'), 0, DEFAULT_POLICY, noJitter).record;
    const failed = afterLookup(good, failure, 0, DEFAULT_POLICY, noJitter).record;
    expect(changed(good, failed)).toBe(true);
    expect(changed(failed, afterLookup(failed, failure, 0, DEFAULT_POLICY, noJitter).record)).toBe(false);
    expect(changed(failed, afterLookup(failed, answer(60, '192.0.2.1'), 0, DEFAULT_POLICY, noJitter).record)).toBe(true);
  });
});
