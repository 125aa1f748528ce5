/** The name watcher on a fake clock with a scripted resolver. */
import { describe, expect, it } from 'vitest';
import type { Family } from '../../../src/config/address.js';
import type { NameResolver, Resolution } from '../../../src/names/resolver.js';
import { DEFAULT_POLICY } from '../../../src/names/schedule.js';
import { type NameStatus, NameWatcher } from '../../../src/names/watcher.js';
import { FakeClock, settle } from '../../support/fake-clock.js';

const v4 = (text: string) => ({ family: 4 as const, text });
const answer = (ttlSeconds: number, ...addresses: string[]): Resolution => ({ ok: true, addresses: addresses.map(v4), ttlSeconds });
const failure: Resolution = { ok: false, kind: 'failure', reason: 'lookup failed: ETIMEOUT' };
const nxdomain: Resolution = { ok: false, kind: 'nxdomain', reason: 'no such name' };

/** Answers each name from its script (the last entry repeats), and records every query. */
class ScriptedResolver implements NameResolver {
  readonly queries: { name: string; family: Family; at: number }[] = [];
  private readonly held = new Map<string, (r: Resolution) => void>();
  /** Names whose lookups stay in flight until `release`. */
  readonly hold = new Set<string>();

  constructor(private readonly clock: FakeClock, private readonly scripts: Record<string, Resolution[]>) {}

  set(name: string, ...script: Resolution[]): void {
    this.scripts[name] = script;
  }

  resolve(name: string, family: Family): Promise<Resolution> {
    this.queries.push({ name, family, at: this.clock.now() });
    const script = this.scripts[name] ?? [nxdomain];
    const next = script.length > 1 ? script.shift()! : script[0]!;
    if (this.hold.has(name)) return new Promise((resolve) => this.held.set(name, () => resolve(next)));
    return Promise.resolve(next);
  }

  release(name: string): void {
    this.hold.delete(name);
    this.held.get(name)?.(failure);
    this.held.delete(name);
  }

  times(name: string): number[] {
    return this.queries.filter((q) => q.name === name).map((q) => q.at);
  }
}

function setUp(scripts: Record<string, Resolution[]>, family: Family = 4) {
  const clock = new FakeClock();
  const resolver = new ScriptedResolver(clock, scripts);
  const watcher = new NameWatcher({ resolver, family, clock, random: () => 0, policy: DEFAULT_POLICY });
  const changes: NameStatus[] = [];
  watcher.onChange((status) => changes.push(status));
  return { clock, resolver, watcher, changes };
}

const texts = (status: NameStatus | undefined) => status?.addresses.map((a) => a.text);

describe('NameWatcher', () => {
  it('looks new names up at once, in its family, and reports their first answer', async () => {
    const { resolver, watcher, changes } = setUp({ 'db.example.com': [answer(30, '192.0.2.1', '192.0.2.2')] }, 4);
    expect(watcher.current('db.example.com')).toBeUndefined();
    watcher.watch(['db.example.com']);
    expect(watcher.current('db.example.com')).toMatchObject({ addresses: [], resolved: false, last: 'pending' });
    await settle();
    expect(resolver.queries).toEqual([{ name: 'db.example.com', family: 4, at: 0 }]);
    expect(watcher.current('db.example.com')).toMatchObject({ resolved: true, last: 'ok', nextLookupAt: 30_000 });
    expect(texts(watcher.current('db.example.com'))).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(changes.map((c) => [c.name, texts(c)])).toEqual([['db.example.com', ['192.0.2.1', '192.0.2.2']]]);
  });

  it('looks a name up again when its TTL runs out, and reports only real changes', async () => {
    const { clock, resolver, watcher, changes } = setUp({ 'a.example.com': [answer(10, '192.0.2.1'), answer(20, '192.0.2.1'), answer(20, '192.0.2.9')] });
    watcher.watch(['a.example.com']);
    await clock.advance(60_000);
    expect(resolver.times('a.example.com')).toEqual([0, 10_000, 30_000, 50_000]);
    expect(changes.map(texts)).toEqual([['192.0.2.1'], ['192.0.2.9']]);
  });

  it('clamps TTLs to the floor and the ceiling', async () => {
    const { clock, resolver, watcher } = setUp({ 'zero.example.com': [answer(0, '192.0.2.1')], 'long.example.com': [answer(86_400, '192.0.2.2')] });
    watcher.watch(['zero.example.com', 'long.example.com']);
    await clock.advance(600_000);
    expect(resolver.times('zero.example.com').slice(0, 4)).toEqual([0, 5000, 10_000, 15_000]);
    expect(resolver.times('long.example.com')).toEqual([0, 300_000, 600_000]);
  });

  it('keeps the last good answer while lookups fail, retrying with backoff, and says when they recover', async () => {
    const { clock, resolver, watcher, changes } = setUp({ 'a.example.com': [answer(10, '192.0.2.1'), failure, failure, failure, answer(10, '192.0.2.1')] });
    watcher.watch(['a.example.com']);
    await clock.advance(10_000);
    expect(watcher.current('a.example.com')).toMatchObject({ last: 'failure', resolved: true, error: 'lookup failed: ETIMEOUT' });
    expect(texts(watcher.current('a.example.com'))).toEqual(['192.0.2.1']);
    await clock.advance(20_000);
    // 10 s TTL, then retries after 1, 2 and 4 s, then the TTL again.
    expect(resolver.times('a.example.com')).toEqual([0, 10_000, 11_000, 13_000, 17_000, 27_000]);
    expect(changes.map((c) => [c.last, texts(c)])).toEqual([
      ['ok', ['192.0.2.1']],
      ['failure', ['192.0.2.1']],
      ['ok', ['192.0.2.1']],
    ]);
  });

  it('takes the addresses of a name away after two NXDOMAIN answers a second apart', async () => {
    const { clock, resolver, watcher, changes } = setUp({ 'gone.example.com': [answer(10, '192.0.2.1'), nxdomain] });
    watcher.watch(['gone.example.com']);
    await clock.advance(10_000);
    expect(texts(watcher.current('gone.example.com'))).toEqual(['192.0.2.1']);
    await clock.advance(1000);
    expect(resolver.times('gone.example.com')).toEqual([0, 10_000, 11_000]);
    expect(watcher.current('gone.example.com')).toMatchObject({ addresses: [], resolved: true, last: 'nxdomain', error: 'no such name' });
    expect(changes.map(texts)).toEqual([['192.0.2.1'], []]);
  });

  it('keeps trying a name that does not exist yet, at the floor, and picks it up when it appears', async () => {
    const { clock, resolver, watcher, changes } = setUp({ 'new.example.com': [nxdomain, nxdomain, answer(60, '192.0.2.7')] });
    watcher.watch(['new.example.com']);
    await clock.advance(10_000);
    expect(resolver.times('new.example.com')).toEqual([0, 5000, 10_000]);
    expect(changes.map((c) => [c.resolved, texts(c)])).toEqual([
      [true, []],
      [true, ['192.0.2.7']],
    ]);
  });

  it('forgets names no longer watched, and ignores the answer of a lookup still in flight for one', async () => {
    const { clock, resolver, watcher, changes } = setUp({ 'a.example.com': [answer(10, '192.0.2.1')], 'b.example.com': [answer(10, '192.0.2.2')] });
    resolver.hold.add('b.example.com');
    watcher.watch(['a.example.com', 'b.example.com']);
    await settle();
    watcher.watch(['a.example.com']);
    resolver.release('b.example.com');
    await clock.advance(30_000);
    expect(watcher.names()).toEqual(['a.example.com']);
    expect(watcher.current('b.example.com')).toBeUndefined();
    expect(resolver.times('b.example.com')).toEqual([0]);
    expect(changes.map((c) => c.name)).toEqual(['a.example.com']);
    expect(clock.pending()).toEqual([10_000]);
  });

  it('follows the union of what several owners watch', async () => {
    const { clock, resolver, watcher } = setUp({});
    watcher.watch(['a.example.com', 'shared.example.com'], 'redirects');
    watcher.watch(['shared.example.com', 'b.example.com'], 'dns-proxy');
    watcher.watch([], 'redirects');
    await clock.advance(1);
    expect(watcher.names().sort()).toEqual(['b.example.com', 'shared.example.com']);
    expect(resolver.times('shared.example.com')).toEqual([0]);
  });

  it('waits, bounded, until every name had its first lookup', async () => {
    const { clock, resolver, watcher } = setUp({ 'a.example.com': [answer(10, '192.0.2.1')], 'slow.example.com': [failure] });
    resolver.hold.add('slow.example.com');
    watcher.watch(['a.example.com', 'slow.example.com']);
    const waiting = watcher.firstLookups(3000);
    await clock.advance(2999);
    let done: string[] | undefined;
    void waiting.then((pending) => (done = pending));
    await settle();
    expect(done).toBeUndefined();
    await clock.advance(1);
    expect(done).toEqual(['slow.example.com']);
    resolver.release('slow.example.com');
    await settle();
    expect(await watcher.firstLookups(3000)).toEqual([]);
  });

  it('counts a failed first lookup as done waiting', async () => {
    const { watcher } = setUp({ 'a.example.com': [failure] });
    watcher.watch(['a.example.com']);
    expect(await watcher.firstLookups(1000)).toEqual([]);
  });

  it('stops every timer and ignores what is still in flight', async () => {
    const { clock, resolver, watcher, changes } = setUp({ 'a.example.com': [answer(10, '192.0.2.1')], 'b.example.com': [answer(10, '192.0.2.2')] });
    resolver.hold.add('b.example.com');
    watcher.watch(['a.example.com', 'b.example.com']);
    await settle();
    watcher.stop();
    resolver.release('b.example.com');
    await clock.advance(60_000);
    expect(clock.pending()).toEqual([]);
    expect(resolver.queries).toHaveLength(2);
    expect(changes).toHaveLength(1);
  });

  it('treats a resolver that throws as a failed lookup', async () => {
    const clock = new FakeClock();
    const watcher = new NameWatcher({ resolver: { resolve: () => Promise.reject(new Error('boom')) }, family: 6, clock, random: () => 0 });
    watcher.watch(['a.example.com']);
    await settle();
    expect(watcher.current('a.example.com')).toMatchObject({ last: 'failure', error: 'lookup failed: boom', resolved: false });
    expect(clock.pending()).toEqual([1000]);
  });
});
