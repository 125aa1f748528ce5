/** The DNS proxy container's environment: which variables, which defaults, which refusals. */
import { describe, expect, it } from 'vitest';
import type { ReadFile } from '../../../src/config/config.js';
import { isDnsProxyContainer, parseDnsProxySettings } from '../../../src/dns-proxy/settings.js';
import { formatProblem } from '../../../src/problem.js';

const files: Record<string, string> = { '/config/destinations': '# mounted\n80 db.example.com 5432\n' };
const readFile: ReadFile = (path) => (path in files ? { ok: true, text: files[path]! } : { ok: false, reason: 'cannot read: no such file' });
const settings = (env: Record<string, string>) => parseDnsProxySettings(env, readFile);
const problems = (env: Record<string, string>) => {
  const result = settings(env);
  return result.ok ? [] : result.problems.map(formatProblem);
};

describe('DNS proxy settings', () => {
  it('has defaults for everything but the list', () => {
    expect(settings({ EGRESS_DNS_PROXY_DESTINATION: '80 203.0.113.25' })).toEqual({
      ok: true,
      value: {
        origin: 'EGRESS_DNS_PROXY_DESTINATION',
        list: { family: 4, rules: [{ line: 1, port: 80, target: { kind: 'address', address: { family: 4, text: '203.0.113.25' } }, targetPort: 80 }] },
        unitTest: false,
        debug: false,
        clusterInterface: 'eth0',
        resolvConf: '/etc/resolv.conf',
        ttl: { minSeconds: 5, maxSeconds: 300 },
      },
    });
  });

  it('reads every variable it knows', () => {
    const result = settings({
      EGRESS_DNS_PROXY_DESTINATION_FILE: '/config/destinations',
      EGRESS_DNS_PROXY_MODE: 'unit-test',
      EGRESS_DNS_PROXY_DEBUG: '1',
      EGRESS_ROUTER_CLUSTER_INTERFACE: 'net1',
      EGRESS_ROUTER_RESOLV_CONF: '/tmp/resolv.conf',
      EGRESS_ROUTER_DNS_MIN_TTL: '1',
      EGRESS_SOURCE: '2001:db8::99/64',
    });
    expect(result.ok && result.value).toMatchObject({
      origin: 'EGRESS_DNS_PROXY_DESTINATION_FILE /config/destinations',
      list: { family: 6 },
      unitTest: true,
      debug: true,
      clusterInterface: 'net1',
      resolvConf: '/tmp/resolv.conf',
      ttl: { minSeconds: 1, maxSeconds: 300 },
    });
  });

  it('turns debug logs on with EGRESS_ROUTER_DEBUG too', () => {
    const result = settings({ EGRESS_DNS_PROXY_DESTINATION: '80 203.0.113.25', EGRESS_ROUTER_DEBUG: 'yes' });
    expect(result.ok && result.value.debug).toBe(true);
  });

  it('refuses an empty or missing list with the legacy message', () => {
    expect(problems({ EGRESS_DNS_PROXY_DESTINATION: '' })).toEqual(['Must specify EGRESS_DNS_PROXY_DESTINATION (or EGRESS_DNS_PROXY_DESTINATION_FILE)']);
    expect(problems({})).toEqual(['Must specify EGRESS_DNS_PROXY_DESTINATION (or EGRESS_DNS_PROXY_DESTINATION_FILE)']);
  });

  it('refuses a list of nothing but comments', () => {
    expect(problems({ EGRESS_DNS_PROXY_DESTINATION: '# nothing yet\n\n' })).toEqual(['EGRESS_DNS_PROXY_DESTINATION: has no rules, only comments or blank lines']);
  });

  it('refuses both the variable and the file, and a file it cannot read', () => {
    expect(problems({ EGRESS_DNS_PROXY_DESTINATION: '80 203.0.113.25', EGRESS_DNS_PROXY_DESTINATION_FILE: '/config/destinations' })).toEqual([
      'EGRESS_DNS_PROXY_DESTINATION_FILE: set together with EGRESS_DNS_PROXY_DESTINATION; use one or the other',
    ]);
    expect(problems({ EGRESS_DNS_PROXY_DESTINATION_FILE: '/missing' })).toEqual(["EGRESS_DNS_PROXY_DESTINATION_FILE '/missing': cannot read: no such file"]);
  });

  it('reports every problem at once, the list errors with their lines', () => {
    expect(
      problems({
        EGRESS_DNS_PROXY_DESTINATION: '80 203.0.113.25\n99999 203.0.113.25',
        EGRESS_DNS_PROXY_MODE: 'test',
        EGRESS_ROUTER_CLUSTER_INTERFACE: 'eth0; rm -rf',
        EGRESS_ROUTER_DNS_MAX_TTL: 'forever',
        EGRESS_SOURCE: '999.1.1.1',
      }),
    ).toEqual([
      "EGRESS_DNS_PROXY_MODE: unrecognized value 'test'; expected unit-test, or leave it unset",
      "EGRESS_ROUTER_CLUSTER_INTERFACE: invalid interface name 'eth0; rm -rf'; use 1-15 letters, digits, '_', '.' or '-'",
      "EGRESS_ROUTER_DNS_MAX_TTL: invalid value 'forever'; use a whole number of seconds from 1 to 86400",
      "EGRESS_SOURCE: invalid value '999.1.1.1': not a valid IPv4 or IPv6 address",
      "EGRESS_DNS_PROXY_DESTINATION line 2: Invalid port: 99999, must be in the range 1 to 65535 (in '99999 203.0.113.25')",
    ]);
  });
});

describe('the legacy DNS proxy container, recognized by its environment', () => {
  it('is a run with the proxy variables (even empty) and no EGRESS_SOURCE', () => {
    expect(isDnsProxyContainer({ EGRESS_DNS_PROXY_DESTINATION: '80 203.0.113.25' })).toBe(true);
    expect(isDnsProxyContainer({ EGRESS_DNS_PROXY_DESTINATION_FILE: '/config/destinations' })).toBe(true);
    expect(isDnsProxyContainer({ EGRESS_DNS_PROXY_DESTINATION: '', EGRESS_DNS_PROXY_MODE: 'unit-test' })).toBe(true);
  });

  it('is not the router itself, nor the HTTP proxy container', () => {
    expect(isDnsProxyContainer({ EGRESS_SOURCE: '192.168.12.99/24', EGRESS_DNS_PROXY_DESTINATION: '80 203.0.113.25' })).toBe(false);
    expect(isDnsProxyContainer({ EGRESS_HTTP_PROXY_DESTINATION: '*' })).toBe(false);
    expect(isDnsProxyContainer({})).toBe(false);
  });
});
