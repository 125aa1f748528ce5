/**
 * The DNS proxy benchmark's pure parts: haproxy configured as the legacy script configured it
 * (its tests' expected frontends and backends), and the follow and recovery times it reports.
 */
import { describe, expect, it } from 'vitest';
import { followTime, recoveryTime } from '../../../bench/dns-proxy.js';
import { legacyHaproxyConfig } from '../../../bench/haproxy-legacy.js';
import { parseWrkOutput } from '../../../bench/http-rate.js';
import { parseProxyDestinations } from '../../../src/dns-proxy/destinations.js';

describe("haproxy's legacy configuration", () => {
  const config = (text: string, counts: Record<string, number>) =>
    legacyHaproxyConfig(parseProxyDestinations(text, { origin: 'list' }).list, ['10.128.0.1'], new Map(Object.entries(counts)));

  it('has the frontends and backends the legacy tests expect, slots counted per name', () => {
    const text = config('80 11.12.13.14\n9000 foo.com 200\n8080 example.com 100\n8081 bar.com 100', { 'foo.com': 2, 'example.com': 1, 'bar.com': 1 });
    for (const part of [
      'frontend fe1\n    bind :80\n    default_backend be1',
      'backend be1\n    server dest1 11.12.13.14:80 check\n',
      'frontend fe2\n    bind :9000\n    default_backend be2',
      'backend be2\n    server-template dest 2 foo.com:200 check resolvers dns-resolver resolve-prefer ipv4',
      'backend be3\n    server dest1 example.com:100 check resolvers dns-resolver resolve-prefer ipv4',
      'backend be4\n    server dest1 bar.com:100 check resolvers dns-resolver resolve-prefer ipv4',
    ]) {
      expect(text).toContain(part);
    }
  });

  it('resolves through the nameservers of resolv.conf and holds a valid answer 10 s', () => {
    expect(config('80 example.com', {})).toContain(
      'resolvers dns-resolver\n    nameserver ns1 10.128.0.1:53\n    resolve_retries      3\n    timeout retry        1s\n    hold valid           10s',
    );
  });

  it('keeps the legacy defaults: TCP mode, redispatch, 3 retries, 10 s connect timeout', () => {
    const text = config('80 11.12.13.14', {});
    for (const line of ['mode                    tcp', 'option                  redispatch', 'retries                 3', 'timeout connect         10s']) expect(text).toContain(line);
  });
});

const entry = (at: number, ok: boolean, reply = 'new') => ({ at, ok, reply: ok ? reply : undefined, error: ok ? undefined : 'timeout' });

describe('follow time', () => {
  it('runs from the change to the first connection after which every one reaches the new address', () => {
    const entries = [entry(900, true, 'old'), entry(1100, true, 'old'), entry(1300, true, 'new'), entry(1500, true, 'old'), entry(1700, true, 'new'), entry(1900, true, 'new')];
    expect(followTime(entries, 1000, 'new')).toBe(700);
  });

  it('is undefined when the new address is never followed', () => {
    expect(followTime([entry(1100, true, 'old')], 1000, 'new')).toBeUndefined();
  });
});

describe('recovery time', () => {
  /** A connection every 20 ms from 0 to `end`, failing between `from` and `to`. */
  const timeline = (end: number, from: number, to: number) => Array.from({ length: end / 20 }, (_, i) => entry(i * 20, i * 20 < from || i * 20 >= to));

  it('is zero when no connection failed', () => expect(recoveryTime(timeline(5000, 0, 0), 1000)).toBe(0));

  it('runs from the death to the first connection after the failures, to 100 ms', () => {
    const result = recoveryTime(timeline(10_000, 2000, 5000), 1000)!;
    expect(result).toBeGreaterThanOrEqual(3900);
    expect(result).toBeLessThanOrEqual(4100);
  });

  it('is undefined when failures go on to the end', () => expect(recoveryTime(timeline(5000, 2000, 5000), 1000)).toBeUndefined());

  it('forgives a single failure among more than a hundred connections a second', () => {
    const dense = Array.from({ length: 1000 }, (_, i) => entry(i * 5, i !== 300));
    expect(recoveryTime(dense, 0)).toBe(0);
  });
});

describe("the DNS proxy benchmark's reading of wrk", () => {
  it('takes the request count and rate, and counts socket errors and bad answers as failures', () => {
    const out = [
      'Running 3s test @ http://10.128.0.5:81/',
      '  2 threads and 32 connections',
      '  28089 requests in 3.00s, 2.68MB read',
      '  Socket errors: connect 0, read 3, write 1, timeout 2',
      '  Non-2xx or 3xx responses: 4',
      'Requests/sec:   9363.12',
    ].join('\n');
    expect(parseWrkOutput(out)).toEqual({ requests: 28089, rate: 9363.12, failed: 10 });
  });

  it('has no result when wrk made no request', () => {
    expect(parseWrkOutput('unable to connect to 10.128.0.5:81 Connection refused')).toBeUndefined();
  });
});
