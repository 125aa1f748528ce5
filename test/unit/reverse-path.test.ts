/** Strict reverse-path filtering: loose mode where the router forwards and can, else a refusal. */
import { describe, expect, it } from 'vitest';
import type { Observed } from '../../src/plan/observed.js';
import { sysctlPath } from '../../src/plan/plan.js';
import { config, freshPod, plan, problems } from '../support/pod-state.js';

const rp = (all: string, cluster: string, egress: string, writable = true): Partial<Observed> => ({ reversePathFilter: { all, cluster, egress, writable } });
const sysctls = (observed: Observed, env: Record<string, string> = {}) =>
  plan(config(env), observed).steps.flatMap((s) => (s.kind === 'sysctl' && s.key.endsWith('rp_filter') ? [`${s.key}=${s.value}`] : []));

describe('reverse-path filtering', () => {
  it('sets loose mode on each interface whose effective filtering is strict', () => {
    expect(sysctls(freshPod(rp('1', '0', '0')))).toEqual(['net.ipv4.conf.eth0.rp_filter=2', 'net.ipv4.conf.macvlan0.rp_filter=2']);
    expect(sysctls(freshPod(rp('0', '1', '2')))).toEqual(['net.ipv4.conf.eth0.rp_filter=2']);
  });

  it('leaves loose or no filtering alone, and everything with EGRESS_ROUTER_RP_FILTER=keep', () => {
    expect(sysctls(freshPod(rp('2', '1', '0')))).toEqual([]);
    expect(sysctls(freshPod(rp('0', '0', '0')))).toEqual([]);
    expect(sysctls(freshPod(rp('1', '1', '1')), { EGRESS_ROUTER_RP_FILTER: 'keep' })).toEqual([]);
  });

  it('refuses, naming each strict sysctl, when /proc/sys is read-only', () => {
    expect(problems(config(), freshPod(rp('1', '1', '0', false)))).toEqual([
      expect.stringMatching(/^sysctl net\.ipv4\.conf\.eth0\.rp_filter: is strict .*EGRESS_ROUTER_RP_FILTER=keep/),
      expect.stringMatching(/^sysctl net\.ipv4\.conf\.macvlan0\.rp_filter: is strict/),
    ]);
    expect(problems(config({ EGRESS_ROUTER_RP_FILTER: 'keep' }), freshPod(rp('1', '1', '0', false)))).toEqual([]);
  });

  it('does not care in http-proxy mode, where nothing is forwarded', () => {
    expect(problems(config({ EGRESS_ROUTER_MODE: 'http-proxy' }), freshPod(rp('1', '1', '1', false)))).toEqual([]);
  });

  it('writes interface names with a dot the way sysctl does', () => {
    const steps = plan(config({ EGRESS_ROUTER_CLUSTER_INTERFACE: 'eth0.100' }), freshPod({ ...rp('1', '1', '0'), cluster: { ...freshPod().cluster!, name: 'eth0.100' } })).steps;
    const key = steps.find((s) => s.kind === 'sysctl' && s.key.includes('eth0'))!;
    expect(key.kind === 'sysctl' && key.key).toBe('net.ipv4.conf.eth0/100.rp_filter');
    expect(sysctlPath('net.ipv4.conf.eth0/100.rp_filter')).toBe('/proc/sys/net/ipv4/conf/eth0.100/rp_filter');
  });

  it('refuses an unknown EGRESS_ROUTER_RP_FILTER', () => {
    expect(() => config({ EGRESS_ROUTER_RP_FILTER: 'strict' })).toThrow(/EGRESS_ROUTER_RP_FILTER: unrecognized value 'strict'; expected one of loose, keep/);
  });
});

describe('the init container of a two-container DNS proxy pod', () => {
  const readOnly = (rp: Partial<Observed>) => freshPod({ forwarding: { value: '0', writable: false }, ...rp });

  it('prepares forwarding and loose filtering where it can, and is not refused where it cannot: the proxy can relay instead', () => {
    const init = config({ EGRESS_ROUTER_MODE: 'dns-proxy' });
    expect(problems(init, readOnly(rp('1', '1', '1', false)))).toEqual([]);
    expect(plan(init, readOnly(rp('1', '1', '1', false))).steps.filter((s) => s.kind === 'sysctl')).toEqual([]);
    expect(plan(init, freshPod(rp('1', '1', '1'))).steps.filter((s) => s.kind === 'sysctl').map((s) => s.kind === 'sysctl' && s.key)).toEqual([
      'net.ipv4.ip_forward',
      'net.ipv4.conf.eth0.rp_filter',
      'net.ipv4.conf.macvlan0.rp_filter',
    ]);
  });

  it('but a one-container DNS proxy pod, which forwards its list itself, needs forwarding', () => {
    const one = config({ EGRESS_ROUTER_MODE: 'dns-proxy', EGRESS_DNS_PROXY_DESTINATION: '80 203.0.113.25' });
    expect(problems(one, readOnly({})).map((p) => p.split(':')[0])).toEqual(['sysctl net.ipv4.ip_forward']);
  });
});
