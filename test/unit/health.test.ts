/** Health checks on a fake clock with a scripted connect function: haproxy's fall 3, rise 2. */
import { describe, expect, it } from 'vitest';
import { type CheckResult, DEFAULT_HEALTH_POLICY, type HealthTarget, HealthChecker, afterCheck } from '../../src/health/checker.js';
import { FakeClock, settle } from '../support/fake-clock.js';

const target = (text: string, port = 80): HealthTarget => ({ address: { family: 4, text }, port });
const A = target('192.0.2.1');
const B = target('192.0.2.2');
const refused: CheckResult = { ok: false, reason: 'ECONNREFUSED' };

/** Connects as the test says: each target is alive or dead; every check is recorded. */
function setUp() {
  const clock = new FakeClock();
  const dead = new Set<string>();
  const checks: { target: string; at: number }[] = [];
  const checker = new HealthChecker({
    clock,
    connect: async (t, timeoutMs) => {
      expect(timeoutMs).toBeLessThanOrEqual(DEFAULT_HEALTH_POLICY.fastIntervalMs);
      checks.push({ target: t.address.text, at: clock.now() });
      return dead.has(t.address.text) ? refused : { ok: true };
    },
  });
  const changes: string[] = [];
  checker.onChange((t, health) => changes.push(`${t.address.text} ${health.up ? 'up' : 'down'} at ${clock.now()}`));
  const times = (text: string) => checks.filter((c) => c.target === text).map((c) => c.at);
  return { clock, dead, checker, changes, times };
}

describe('health state', () => {
  const policy = DEFAULT_HEALTH_POLICY;
  it('takes a target out at the third consecutive failure, not before', () => {
    let health = { up: true, failures: 0, successes: 0 };
    const ups: boolean[] = [];
    for (let i = 0; i < 3; i++) ups.push((health = afterCheck(health, refused, policy)).up);
    expect(ups).toEqual([true, true, false]);
  });

  it('starts counting again after a good check between failures', () => {
    let health = { up: true, failures: 0, successes: 0 };
    for (const result of [refused, refused, { ok: true } as const, refused, refused]) health = afterCheck(health, result, policy);
    expect(health).toMatchObject({ up: true, failures: 2 });
  });

  it('brings a target back at the second consecutive good check', () => {
    let health = { up: false, failures: 0, successes: 0 };
    expect((health = afterCheck(health, { ok: true }, policy)).up).toBe(false);
    expect((health = afterCheck(health, refused, policy)).successes).toBe(0);
    expect((health = afterCheck(health, { ok: true }, policy)).up).toBe(false);
    expect(afterCheck(health, { ok: true }, policy).up).toBe(true);
  });
});

describe('HealthChecker', () => {
  it('starts new targets up and checks them at once, then every 2 s', async () => {
    const { clock, checker, times } = setUp();
    checker.watch([A, B]);
    expect(checker.isUp(A)).toBe(true);
    await clock.advance(6000);
    expect(times('192.0.2.1')).toEqual([0, 2000, 4000, 6000]);
    expect(checker.isUp(A) && checker.isUp(B)).toBe(true);
  });

  it('takes a dead target out after 3 failed checks, 1 s apart once the first failed, and back after 2 good ones', async () => {
    const { clock, dead, checker, changes, times } = setUp();
    checker.watch([A, B]);
    await clock.advance(1);
    dead.add('192.0.2.1');
    await clock.advance(10_000);
    // Checks at 2 s (fails), then 3 s and 4 s (fast interval): out at 4 s, then every 2 s.
    expect(times('192.0.2.1')).toEqual([0, 2000, 3000, 4000, 6000, 8000, 10_000]);
    expect(checker.isUp(A)).toBe(false);
    expect(checker.isUp(B)).toBe(true);
    expect(checker.health(A)).toMatchObject({ up: false, lastError: 'ECONNREFUSED' });
    dead.delete('192.0.2.1');
    await clock.advance(2000);
    expect(checker.isUp(A)).toBe(false);
    await clock.advance(1000);
    expect(checker.isUp(A)).toBe(true);
    expect(changes).toEqual(['192.0.2.1 down at 4000', '192.0.2.1 up at 13000']);
  });

  it('times checks from their start, so a slow check does not stretch the interval', async () => {
    const clock = new FakeClock();
    const starts: number[] = [];
    const checker = new HealthChecker({
      clock,
      connect: (_t, timeoutMs) =>
        new Promise((resolve) => {
          starts.push(clock.now());
          clock.setTimeout(() => resolve({ ok: false, reason: 'timeout' }), timeoutMs);
        }),
    });
    checker.watch([A]);
    await clock.advance(7000);
    expect(starts).toEqual([0, 1000, 2000, 4000, 6000]);
    expect(checker.isUp(A)).toBe(false);
  });

  it('forgets targets no longer watched, and counts a target nobody checks as up', async () => {
    const { clock, dead, checker, changes, times } = setUp();
    dead.add('192.0.2.1');
    checker.watch([A, B], 'dns-proxy');
    await clock.advance(2000);
    checker.watch([B], 'dns-proxy');
    await clock.advance(10_000);
    expect(times('192.0.2.1')).toEqual([0, 1000, 2000]);
    expect(checker.isUp(A)).toBe(true);
    expect(checker.health(A)).toBeUndefined();
    expect(changes).toEqual(['192.0.2.1 down at 2000']);
  });

  it('checks the union of every owner, and the same address on another port as another target', async () => {
    const { clock, checker } = setUp();
    checker.watch([A, target('192.0.2.1', 443)], 'redirects');
    checker.watch([A, B], 'dns-proxy');
    await settle();
    expect(checker.targets().map((t) => `${t.target.address.text}:${t.target.port}`).sort()).toEqual(['192.0.2.1:443', '192.0.2.1:80', '192.0.2.2:80']);
    checker.watch([], 'redirects');
    await clock.advance(1);
    expect(checker.targets()).toHaveLength(2);
  });

  it('stops every timer', async () => {
    const { clock, checker, times } = setUp();
    checker.watch([A]);
    await settle();
    checker.stop();
    await clock.advance(10_000);
    expect(times('192.0.2.1')).toEqual([0]);
    expect(clock.pending()).toEqual([]);
  });
});

describe('the TCP check', () => {
  it('succeeds against a listening port and fails with the refusal against a closed one (loopback)', async () => {
    const { tcpConnectCheck } = await import('../../src/health/tcp-check.js');
    const net = await import('node:net');
    const server = net.createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const loopback = { family: 4 as const, text: '127.0.0.1' };
    try {
      expect(await tcpConnectCheck({ address: loopback, port }, 1000)).toEqual({ ok: true });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await tcpConnectCheck({ address: loopback, port }, 1000)).toEqual({ ok: false, reason: 'ECONNREFUSED' });
  });
});
