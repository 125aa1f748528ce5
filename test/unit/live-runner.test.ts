/** The bounded-frequency runner that every trigger of the long-running router goes through. */
import { describe, expect, it } from 'vitest';
import { type SyncKind, SyncRunner, type Timers } from '../../src/live/runner.js';

/** A fake clock: timers fire only when the test advances time. */
class FakeTimers implements Timers {
  private time = 0;
  private queue: { at: number; callback: () => void; id: number }[] = [];
  private next = 1;
  now = () => this.time;
  setTimeout = (callback: () => void, ms: number) => {
    const id = this.next++;
    this.queue.push({ at: this.time + ms, callback, id });
    return id;
  };
  clearTimeout = (handle: unknown) => {
    this.queue = this.queue.filter((t) => t.id !== handle);
  };
  /** Moves time forward, firing due timers in order and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await flush();
      const due = this.queue.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.queue = this.queue.filter((t) => t !== due);
      this.time = due.at;
      due.callback();
    }
    this.time = end;
    await flush();
  }
}
const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

function recorder(results: boolean[] = []) {
  const calls: { kind: SyncKind; at: number }[] = [];
  let release: (() => void) | undefined;
  let holding = false;
  return {
    calls,
    hold: () => (holding = true),
    release: () => {
      holding = false;
      release?.();
    },
    sync: (timers: FakeTimers) => async (kind: SyncKind) => {
      calls.push({ kind, at: timers.now() });
      if (holding) await new Promise<void>((resolve) => (release = resolve));
      return results.shift() ?? true;
    },
  };
}

describe('SyncRunner', () => {
  it('turns a burst of requests into one sync', async () => {
    const timers = new FakeTimers();
    const r = recorder();
    const runner = new SyncRunner(r.sync(timers), { minIntervalMs: 200, fullSyncEveryMs: 0, timers });
    for (let i = 0; i < 10; i++) runner.request();
    await timers.advance(1000);
    expect(r.calls).toEqual([{ kind: 'partial', at: 0 }]);
  });

  it('spaces syncs by at least the minimum interval', async () => {
    const timers = new FakeTimers();
    const r = recorder();
    const runner = new SyncRunner(r.sync(timers), { minIntervalMs: 200, fullSyncEveryMs: 0, timers });
    runner.request();
    await timers.advance(50);
    runner.request();
    await timers.advance(1000);
    expect(r.calls.map((c) => c.at)).toEqual([0, 200]);
  });

  it('runs one more sync for requests that arrive during a sync, never two at once', async () => {
    const timers = new FakeTimers();
    const r = recorder();
    const runner = new SyncRunner(r.sync(timers), { minIntervalMs: 0, fullSyncEveryMs: 0, timers });
    r.hold();
    runner.request();
    await timers.advance(10);
    runner.request();
    runner.request('full');
    await timers.advance(10);
    expect(r.calls).toHaveLength(1);
    r.release();
    await timers.advance(10);
    expect(r.calls.map((c) => c.kind)).toEqual(['partial', 'full']);
  });

  it('does not downgrade a pending full sync to a partial one', async () => {
    const timers = new FakeTimers();
    const r = recorder();
    const runner = new SyncRunner(r.sync(timers), { minIntervalMs: 100, fullSyncEveryMs: 0, timers });
    runner.request('full');
    runner.request('partial');
    await timers.advance(500);
    expect(r.calls.map((c) => c.kind)).toEqual(['full']);
  });

  it('runs a full sync periodically as the safety net', async () => {
    const timers = new FakeTimers();
    const r = recorder();
    new SyncRunner(r.sync(timers), { minIntervalMs: 100, fullSyncEveryMs: 60_000, timers });
    await timers.advance(180_000);
    expect(r.calls).toEqual([
      { kind: 'full', at: 60_000 },
      { kind: 'full', at: 120_000 },
      { kind: 'full', at: 180_000 },
    ]);
  });

  it('retries a sync that did not converge, as a full sync, with growing delays', async () => {
    const timers = new FakeTimers();
    const r = recorder([false, false, true]);
    const runner = new SyncRunner(r.sync(timers), { minIntervalMs: 0, fullSyncEveryMs: 0, retryMs: 1000, timers });
    runner.request();
    await timers.advance(10_000);
    expect(r.calls).toEqual([
      { kind: 'partial', at: 0 },
      { kind: 'full', at: 1000 },
      { kind: 'full', at: 3000 },
    ]);
  });

  it('treats a sync that throws as not converged and reports the error', async () => {
    const timers = new FakeTimers();
    const errors: unknown[] = [];
    let calls = 0;
    const runner = new SyncRunner(
      async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return true;
      },
      { minIntervalMs: 0, fullSyncEveryMs: 0, retryMs: 500, timers, onError: (e) => errors.push(e) },
    );
    runner.request();
    await timers.advance(1000);
    expect(calls).toBe(2);
    expect(String(errors[0])).toContain('boom');
  });

  it('runs nothing after stop, and stop waits for the running sync', async () => {
    const timers = new FakeTimers();
    const r = recorder();
    const runner = new SyncRunner(r.sync(timers), { minIntervalMs: 0, fullSyncEveryMs: 1000, timers });
    r.hold();
    runner.request();
    await timers.advance(1);
    let stopped = false;
    const stopping = runner.stop().then(() => (stopped = true));
    await timers.advance(1);
    expect(stopped).toBe(false);
    r.release();
    await stopping;
    runner.request();
    await timers.advance(10_000);
    expect(r.calls).toHaveLength(1);
  });
});
