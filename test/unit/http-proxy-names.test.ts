/** The proxy's name cache: both families, IPv4 first, answers kept for their TTL, lookups shared. */
import { describe, expect, it } from 'vitest';
import type { Family } from '../../src/config/address.js';
import { NameCache } from '../../src/http-proxy/names.js';
import type { NameResolver, Resolution } from '../../src/names/resolver.js';

function fakeResolver(answers: Record<string, Partial<Record<Family, Resolution>>>) {
  const calls: string[] = [];
  const resolver: NameResolver = {
    async resolve(name, family) {
      calls.push(`${name}/${family}`);
      return answers[name]?.[family] ?? { ok: false, kind: 'nxdomain', reason: 'no such name' };
    },
  };
  return { resolver, calls };
}
const v4 = (text: string, ttlSeconds = 30): Resolution => ({ ok: true, addresses: [{ family: 4, text }], ttlSeconds });
const v6 = (text: string, ttlSeconds = 30): Resolution => ({ ok: true, addresses: [{ family: 6, text }], ttlSeconds });
const nodata: Resolution = { ok: false, kind: 'nodata', reason: 'no records' };

describe('name cache', () => {
  it('asks for both families and lists IPv4 addresses first, with their values', async () => {
    const { resolver } = fakeResolver({ 'a.example.com': { 4: v4('192.0.2.1'), 6: v6('2001:db8::1') } });
    const lookup = await new NameCache(resolver).lookup('a.example.com');
    expect(lookup).toEqual({
      ok: true,
      addresses: [
        { family: 4, text: '192.0.2.1', value: 0xc0000201n },
        { family: 6, text: '2001:db8::1', value: 0x20010db8000000000000000000000001n },
      ],
    });
  });

  it('keeps an answer for the smallest TTL, then asks again', async () => {
    let now = 0;
    const { resolver, calls } = fakeResolver({ 'a.example.com': { 4: v4('192.0.2.1', 30), 6: v6('2001:db8::1', 10) } });
    const cache = new NameCache(resolver, () => now);
    await cache.lookup('a.example.com');
    now = 9_999;
    expect(cache.cached('a.example.com')).toMatchObject({ ok: true });
    await cache.lookup('a.example.com');
    expect(calls).toHaveLength(2);
    now = 10_000;
    expect(cache.cached('a.example.com')).toBeUndefined();
    await cache.lookup('a.example.com');
    expect(calls).toHaveLength(4);
  });

  it('shares one lookup among concurrent requests for a name', async () => {
    const { resolver, calls } = fakeResolver({ 'a.example.com': { 4: v4('192.0.2.1') } });
    const cache = new NameCache(resolver);
    await Promise.all([cache.lookup('a.example.com'), cache.lookup('a.example.com'), cache.lookup('a.example.com')]);
    expect(calls).toEqual(['a.example.com/4', 'a.example.com/6']);
  });

  it('uses one family when the other has no records', async () => {
    const { resolver } = fakeResolver({ 'v6.example.com': { 4: nodata, 6: v6('2001:db8::6') } });
    expect(await new NameCache(resolver).lookup('v6.example.com')).toMatchObject({ ok: true, addresses: [{ text: '2001:db8::6' }] });
  });

  it('says why a name has no address, keeps that answer a few seconds, and never keeps a failed lookup', async () => {
    let now = 0;
    const failure: Resolution = { ok: false, kind: 'failure', reason: 'lookup failed: ETIMEOUT' };
    const { resolver, calls } = fakeResolver({ 'empty.example.com': { 4: nodata, 6: nodata }, 'down.example.com': { 4: failure, 6: nodata } });
    const cache = new NameCache(resolver, () => now);
    expect(await cache.lookup('missing.example.com')).toEqual({ ok: false, reason: 'no such name' });
    expect(await cache.lookup('empty.example.com')).toEqual({ ok: false, reason: 'the name has no IPv4 or IPv6 address' });
    expect(await cache.lookup('down.example.com')).toEqual({ ok: false, reason: 'lookup failed: ETIMEOUT' });
    expect(cache.cached('missing.example.com')).toBeDefined();
    expect(cache.cached('down.example.com')).toBeUndefined();
    now = 5_000;
    expect(cache.cached('missing.example.com')).toBeUndefined();
    expect(calls).toHaveLength(6);
  });

  it('holds at most its bound of names, forgetting the oldest first', async () => {
    const { resolver } = fakeResolver({ 'a.example.com': { 4: v4('192.0.2.1') }, 'b.example.com': { 4: v4('192.0.2.2') }, 'c.example.com': { 4: v4('192.0.2.3') } });
    const cache = new NameCache(resolver, Date.now, 2);
    for (const name of ['a.example.com', 'b.example.com', 'c.example.com']) await cache.lookup(name);
    expect(cache.cached('a.example.com')).toBeUndefined();
    expect(cache.cached('c.example.com')).toBeDefined();
  });
});
