/** Environment in, typed configuration out. */
import { describe, expect, it } from 'vitest';
import { type Environment, type ReadFile, parseConfig, withEnvFile } from '../../src/config/config.js';
import { destinationText } from '../../src/config/destinations.js';
import { formatProblem } from '../../src/problem.js';

const BASE: Environment = { EGRESS_SOURCE: '192.168.12.99/24', EGRESS_GATEWAY: '192.168.12.1', EGRESS_DESTINATION: '80 tcp 203.0.113.25' };
const noFiles: ReadFile = () => ({ ok: false, reason: 'cannot read: no such file' });
const files = (contents: Record<string, string>): ReadFile => (path) =>
  path in contents ? { ok: true, text: contents[path]! } : { ok: false, reason: 'cannot read: no such file' };

const errors = (env: Environment, readFile: ReadFile = noFiles) => {
  const result = parseConfig(env, readFile);
  return result.ok ? [] : result.problems.map(formatProblem);
};

describe('configuration from the environment', () => {
  it('reads the legacy variables with their defaults', () => {
    const result = parseConfig(BASE, noFiles);
    expect(result.ok && result.value).toMatchObject({
      mode: 'legacy',
      source: { family: 4, text: '192.168.12.99', prefix: 24 },
      gateway: { family: 4, text: '192.168.12.1' },
      family: 4,
      egressInterface: 'macvlan0',
      clusterInterface: 'eth0',
      firewall: 'auto',
      debug: false,
      dryRun: false,
    });
  });

  it('treats a source without a prefix as a /32', () => {
    const result = parseConfig({ ...BASE, EGRESS_SOURCE: '192.168.12.99' }, noFiles);
    expect(result.ok && result.value.source.prefix).toBe(32);
  });

  it('carries the IPv6 family through source, gateway and rules', () => {
    const result = parseConfig(
      { EGRESS_SOURCE: '2001:db8:12::99/64', EGRESS_GATEWAY: '2001:db8:12::1', EGRESS_DESTINATION: '80 tcp 2001:db8::25' },
      noFiles,
    );
    expect(result.ok && result.value.family).toBe(6);
  });

  it.each([
    [{ EGRESS_SOURCE: undefined }, 'EGRESS_SOURCE: unspecified'],
    [{ EGRESS_SOURCE: '' }, 'EGRESS_SOURCE: unspecified'],
    [{ EGRESS_SOURCE: '999.1.1.1' }, "EGRESS_SOURCE: invalid value '999.1.1.1': not a valid IPv4 or IPv6 address"],
    [{ EGRESS_SOURCE: '192.168.12.99/33' }, "EGRESS_SOURCE: invalid value '192.168.12.99/33': prefix length must be a number from 1 to 32"],
    [{ EGRESS_SOURCE: '192.168.12.99/024' }, "EGRESS_SOURCE: invalid value '192.168.12.99/024': prefix length must be a number from 1 to 32"],
    [{ EGRESS_GATEWAY: undefined }, 'EGRESS_GATEWAY: unspecified'],
    [{ EGRESS_GATEWAY: '192.168.12.1/24' }, "EGRESS_GATEWAY: invalid value '192.168.12.1/24': not a valid IPv4 or IPv6 address"],
    [{ EGRESS_GATEWAY: '2001:db8::1' }, 'EGRESS_GATEWAY: IPv6 gateway 2001:db8::1 does not match the IPv4 EGRESS_SOURCE'],
    [{ EGRESS_GATEWAY: '192.168.12.99' }, 'EGRESS_GATEWAY: 192.168.12.99 is EGRESS_SOURCE itself'],
    [{ EGRESS_DESTINATION: undefined }, 'EGRESS_DESTINATION: unspecified; set it or EGRESS_DESTINATION_FILE'],
    [{ EGRESS_DESTINATION: '# nothing\n\n' }, 'EGRESS_DESTINATION: has no rules, only comments or blank lines'],
    [{ EGRESS_ROUTER_MODE: 'redirect' }, "EGRESS_ROUTER_MODE: unrecognized value 'redirect'; expected one of init, legacy, http-proxy, dns-proxy, unit-test"],
    [{ EGRESS_ROUTER_FIREWALL: 'pf' }, "EGRESS_ROUTER_FIREWALL: unrecognized value 'pf'; expected one of nftables, iptables, auto"],
    [{ EGRESS_ROUTER_INTERFACE: 'mac vlan' }, "EGRESS_ROUTER_INTERFACE: invalid interface name 'mac vlan'; use 1-15 letters, digits, '_', '.' or '-'"],
    [{ EGRESS_ROUTER_INTERFACE: 'eth0' }, 'EGRESS_ROUTER_INTERFACE: eth0 is also the cluster interface (EGRESS_ROUTER_CLUSTER_INTERFACE)'],
    [{ EGRESS_DESTINATION_FILE: '/etc/egress/list' }, 'EGRESS_DESTINATION_FILE: set together with EGRESS_DESTINATION; use one or the other'],
  ])('rejects %j', (override, message) => {
    expect(errors({ ...BASE, ...override })).toEqual([message]);
  });

  it('reports every bad variable at once', () => {
    expect(errors({ EGRESS_SOURCE: 'x', EGRESS_ROUTER_MODE: 'y' }).map((m) => m.split(':')[0])).toEqual([
      'EGRESS_ROUTER_MODE',
      'EGRESS_SOURCE',
      'EGRESS_GATEWAY',
      'EGRESS_DESTINATION',
    ]);
  });

  it('reads the list from EGRESS_DESTINATION_FILE and names the file in errors', () => {
    const env = { ...BASE, EGRESS_DESTINATION: undefined, EGRESS_DESTINATION_FILE: '/etc/egress/list' };
    const ok = parseConfig(env, files({ '/etc/egress/list': '80 tcp 203.0.113.25\n203.0.113.27\n' }));
    expect(ok.ok && destinationText(ok.value.destinations!.fallback!.target)).toBe('203.0.113.27');
    expect(errors(env, files({ '/etc/egress/list': '80 tcp 1.2.3' }))).toEqual([
      "EGRESS_DESTINATION_FILE /etc/egress/list line 1: invalid address '1.2.3': not a valid IPv4 or IPv6 address (in '80 tcp 1.2.3')",
    ]);
    expect(errors(env)).toEqual(["EGRESS_DESTINATION_FILE '/etc/egress/list': cannot read: no such file"]);
  });

  it('does not read EGRESS_DESTINATION in the proxy modes, where it belongs to the proxy', () => {
    const http = parseConfig({ ...BASE, EGRESS_ROUTER_MODE: 'http-proxy', EGRESS_DESTINATION: '*.example.com\n!10.0.0.0/8' }, noFiles);
    expect(http.ok && http.value.destinations).toEqual({ family: 4, redirects: [] });
    const dns = parseConfig({ ...BASE, EGRESS_ROUTER_MODE: 'dns-proxy', EGRESS_DESTINATION: '80 example.com' }, noFiles);
    expect(dns.ok && dns.value.destinations).toEqual({ family: 4, redirects: [] });
  });

  it('turns a DNS proxy list into TCP redirects in dns-proxy mode, with the proxy grammar and its messages', () => {
    const dns = parseConfig({ ...BASE, EGRESS_ROUTER_MODE: 'dns-proxy', EGRESS_DNS_PROXY_DESTINATION: '80 db.example.com\n8080 203.0.113.26 100' }, noFiles);
    expect(dns.ok && dns.value.destinations?.redirects).toEqual([
      { line: 1, protocol: 'tcp', port: 80, target: { name: 'db.example.com' }, targetPort: 80 },
      { line: 2, protocol: 'tcp', port: 8080, target: { family: 4, text: '203.0.113.26' }, targetPort: 100 },
    ]);
    const bad = parseConfig({ ...BASE, EGRESS_ROUTER_MODE: 'dns-proxy', EGRESS_DNS_PROXY_DESTINATION: '80 invalid' }, noFiles);
    expect(bad.ok ? [] : bad.problems.map((p) => p.where)).toEqual(['EGRESS_DNS_PROXY_DESTINATION line 1']);
  });

  it('turns on debug for any non-empty EGRESS_ROUTER_DEBUG and dry run for EGRESS_ROUTER_DRY_RUN=1', () => {
    const result = parseConfig({ ...BASE, EGRESS_ROUTER_DEBUG: 'x', EGRESS_ROUTER_DRY_RUN: '1' }, noFiles);
    expect(result.ok && [result.value.debug, result.value.dryRun]).toEqual([true, true]);
  });
});

describe('EGRESS_ROUTER_ENV_FILE', () => {
  const envFile = 'EGRESS_SOURCE=10.0.0.99\nEGRESS_GATEWAY=10.0.0.1\nEGRESS_DESTINATION="80 tcp 203.0.113.25\n203.0.113.27"\nOTHER=ignored\n';

  it('fills in what the environment leaves unset', () => {
    const merged = withEnvFile({ EGRESS_ROUTER_ENV_FILE: '/env', EGRESS_GATEWAY: '10.0.0.254' }, files({ '/env': envFile }));
    expect(merged.ok && merged.value).toMatchObject({
      EGRESS_SOURCE: '10.0.0.99',
      EGRESS_GATEWAY: '10.0.0.254',
      EGRESS_DESTINATION: '80 tcp 203.0.113.25\n203.0.113.27',
    });
    expect(merged.ok && merged.value.OTHER).toBeUndefined();
  });

  it('is an error when the file named cannot be read', () => {
    const merged = withEnvFile({ EGRESS_ROUTER_ENV_FILE: '/missing' }, noFiles);
    expect(merged.ok ? [] : merged.problems.map(formatProblem)).toEqual(["EGRESS_ROUTER_ENV_FILE '/missing': cannot read: no such file"]);
  });
});
