/** Failover settings: EGRESS_ROUTER_VRRP_ID turns failover on; every value is checked and named. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ADVERT_INTERVAL_MS, DEFAULT_PRIORITY, DEFAULT_WORK_DIR, parseFailoverSettings } from '../../../src/failover/settings.js';
import { formatProblem } from '../../../src/problem.js';

const parse = (env: Record<string, string>, mode: Parameters<typeof parseFailoverSettings>[1] = 'legacy') => parseFailoverSettings(env, mode);
const problems = (env: Record<string, string>, mode: Parameters<typeof parseFailoverSettings>[1] = 'legacy'): string[] => {
  const result = parse(env, mode);
  return result.ok ? [] : result.problems.map(formatProblem);
};

describe('failover settings', () => {
  it('are off, and change nothing, without EGRESS_ROUTER_VRRP_ID', () => {
    expect(parse({})).toEqual({ ok: true, value: undefined });
    expect(parse({ EGRESS_ROUTER_VRRP_ID: '' })).toEqual({ ok: true, value: undefined });
    expect(parse({}, 'init')).toEqual({ ok: true, value: undefined });
  });

  it('take the documented defaults when only the id is set', () => {
    expect(parse({ EGRESS_ROUTER_VRRP_ID: '42' })).toEqual({
      ok: true,
      value: { routerId: 42, priority: DEFAULT_PRIORITY, advertIntervalMs: DEFAULT_ADVERT_INTERVAL_MS, workDir: DEFAULT_WORK_DIR },
    });
    expect([DEFAULT_PRIORITY, DEFAULT_ADVERT_INTERVAL_MS, DEFAULT_WORK_DIR]).toEqual([100, 200, '/run/egress-router']);
  });

  it('read every variable', () => {
    const env = { EGRESS_ROUTER_VRRP_ID: '255', EGRESS_ROUTER_VRRP_PRIORITY: '254', EGRESS_ROUTER_VRRP_INTERVAL_MS: '50', EGRESS_ROUTER_VRRP_DIR: '/var/run/egress/' };
    expect(parse(env, 'http-proxy')).toEqual({ ok: true, value: { routerId: 255, priority: 254, advertIntervalMs: 50, workDir: '/var/run/egress' } });
    expect(parse({ ...env, EGRESS_ROUTER_VRRP_ID: '1', EGRESS_ROUTER_VRRP_PRIORITY: '1', EGRESS_ROUTER_VRRP_INTERVAL_MS: '1000' }, 'dns-proxy')).toMatchObject({ ok: true, value: { routerId: 1, priority: 1, advertIntervalMs: 1000 } });
  });

  it.each([
    ['0', "EGRESS_ROUTER_VRRP_ID: invalid value '0': a VRRP router id is a number from 1 to 255"],
    ['256', "EGRESS_ROUTER_VRRP_ID: invalid value '256'"],
    ['042', "EGRESS_ROUTER_VRRP_ID: invalid value '042'"],
    ['+4', "EGRESS_ROUTER_VRRP_ID: invalid value '+4'"],
    ['4 2', "EGRESS_ROUTER_VRRP_ID: invalid value '4 2'"],
    ['vrrp', "EGRESS_ROUTER_VRRP_ID: invalid value 'vrrp'"],
  ])('refuse the router id %j, naming the variable and the value', (value, message) => {
    expect(problems({ EGRESS_ROUTER_VRRP_ID: value })[0]).toContain(message);
  });

  it('refuse priority 255 (the address owner, which would take the address back at every start) and 0', () => {
    expect(problems({ EGRESS_ROUTER_VRRP_ID: '1', EGRESS_ROUTER_VRRP_PRIORITY: '255' })).toEqual([
      "EGRESS_ROUTER_VRRP_PRIORITY: invalid value '255': a VRRP priority is a number from 1 to 254 (255 is the address owner, which would take the address back at every start)",
    ]);
    expect(problems({ EGRESS_ROUTER_VRRP_ID: '1', EGRESS_ROUTER_VRRP_PRIORITY: '0' })).toHaveLength(1);
  });

  it.each([
    ['40', 'from 50 to 1000'],
    ['1010', 'from 50 to 1000'],
    ['0.2', 'from 50 to 1000'],
    ['205', 'VRRPv3 counts in hundredths of a second; use a multiple of 10'],
  ])('refuse the advertisement interval %j', (value, reason) => {
    expect(problems({ EGRESS_ROUTER_VRRP_ID: '1', EGRESS_ROUTER_VRRP_INTERVAL_MS: value })).toEqual([expect.stringMatching(new RegExp(`^EGRESS_ROUTER_VRRP_INTERVAL_MS: invalid value '${value.replace('.', '\\.')}': .*${reason.replace(/[()]/g, '.')}`))]);
  });

  it.each(['run/egress', '/run/egress router', '/run/#egress', '/run/../etc', '/run/{x}', '/run/"x"'])('refuse the work directory %j, which keepalived could not read as one word', (dir) => {
    expect(problems({ EGRESS_ROUTER_VRRP_ID: '1', EGRESS_ROUTER_VRRP_DIR: dir })).toEqual([expect.stringMatching(/^EGRESS_ROUTER_VRRP_DIR: invalid value .*use an absolute path/)]);
  });

  it('refuse the other variables without EGRESS_ROUTER_VRRP_ID instead of ignoring them', () => {
    expect(problems({ EGRESS_ROUTER_VRRP_PRIORITY: '150', EGRESS_ROUTER_VRRP_DIR: '/run/x' })).toEqual([
      'EGRESS_ROUTER_VRRP_PRIORITY: set without EGRESS_ROUTER_VRRP_ID, which turns failover on; set both or neither',
      'EGRESS_ROUTER_VRRP_DIR: set without EGRESS_ROUTER_VRRP_ID, which turns failover on; set both or neither',
    ]);
  });

  it('refuse init mode, whose router exits and could not supervise keepalived', () => {
    expect(problems({ EGRESS_ROUTER_VRRP_ID: '7' }, 'init')).toEqual([
      'EGRESS_ROUTER_VRRP_ID: failover needs a router that stays up (EGRESS_ROUTER_MODE legacy, http-proxy, dns-proxy); mode init exits after configuring the pod',
    ]);
    expect(parse({ EGRESS_ROUTER_VRRP_ID: '7' }, 'unit-test').ok).toBe(true);
  });

  it('report every problem at once', () => {
    expect(problems({ EGRESS_ROUTER_VRRP_ID: 'x', EGRESS_ROUTER_VRRP_PRIORITY: 'y', EGRESS_ROUTER_VRRP_INTERVAL_MS: 'z', EGRESS_ROUTER_VRRP_DIR: 'w' }, 'init')).toHaveLength(5);
  });
});
