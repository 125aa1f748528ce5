/** The HTTP proxy's environment: defaults, every variable, and every problem reported at once. */
import { describe, expect, it } from 'vitest';
import type { ReadFile } from '../../src/config/config.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUTS, hasProxyList, parseHttpProxySettings } from '../../src/http-proxy/settings.js';
import { formatProblem } from '../../src/problem.js';

const files: Record<string, string> = { '/config/proxy': '# from a ConfigMap\n*.example.com\n*\n' };
const readFile: ReadFile = (path) => (path in files ? { ok: true, text: files[path]! } : { ok: false, reason: 'cannot read: no such file' });
const settings = (env: Record<string, string>) => parseHttpProxySettings(env, readFile);
const errors = (env: Record<string, string>) => {
  const result = settings(env);
  return result.ok ? [] : result.problems.map(formatProblem);
};

describe('HTTP proxy settings', () => {
  it('has the legacy defaults: port 8080, eth0, /etc/resolv.conf, no access log', () => {
    const result = settings({ EGRESS_HTTP_PROXY_DESTINATION: 'example.com' });
    expect(result).toMatchObject({
      ok: true,
      value: {
        origin: 'EGRESS_HTTP_PROXY_DESTINATION',
        port: 8080,
        maxConnections: DEFAULT_MAX_CONNECTIONS,
        maxHeaderBytes: 65536,
        accessLog: false,
        timeouts: DEFAULT_TIMEOUTS,
        unitTest: false,
        clusterInterface: 'eth0',
        resolvConf: '/etc/resolv.conf',
        debug: false,
      },
    });
  });

  it('reads every variable', () => {
    const result = settings({
      EGRESS_HTTP_PROXY_DESTINATION_FILE: '/config/proxy',
      EGRESS_HTTP_PROXY_PORT: '3128',
      EGRESS_HTTP_PROXY_MAX_CONNECTIONS: '100',
      EGRESS_HTTP_PROXY_ACCESS_LOG: 'true',
      EGRESS_HTTP_PROXY_TIMEOUTS: 'header=2s, idle=30 connect=500ms read=1m',
      EGRESS_HTTP_PROXY_MODE: 'unit-test',
      EGRESS_ROUTER_CLUSTER_INTERFACE: 'net1',
      EGRESS_ROUTER_RESOLV_CONF: '/tmp/resolv.conf',
      EGRESS_ROUTER_DEBUG: '1',
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({
      origin: 'EGRESS_HTTP_PROXY_DESTINATION_FILE /config/proxy',
      port: 3128,
      maxConnections: 100,
      accessLog: true,
      timeouts: { headerMs: 2000, idleMs: 30_000, connectMs: 500, readMs: 60_000, shutdownMs: DEFAULT_TIMEOUTS.shutdownMs },
      unitTest: true,
      clusterInterface: 'net1',
      resolvConf: '/tmp/resolv.conf',
      debug: true,
    });
    expect(result.value.rules.wildcardLine).toBe(3);
  });

  it('turns the access log off with 0, false, no or off', () => {
    for (const value of ['0', 'false', 'No', 'off']) {
      expect(settings({ EGRESS_HTTP_PROXY_DESTINATION: '*', EGRESS_HTTP_PROXY_ACCESS_LOG: value })).toMatchObject({ value: { accessLog: false } });
    }
  });

  it('needs a list: the legacy "No EGRESS_HTTP_PROXY_DESTINATION specified"', () => {
    expect(errors({})).toEqual(['EGRESS_HTTP_PROXY_DESTINATION: unspecified; set it or EGRESS_HTTP_PROXY_DESTINATION_FILE']);
    expect(errors({ EGRESS_HTTP_PROXY_DESTINATION: '' })).toHaveLength(1);
  });

  it('refuses both the list and its file', () => {
    expect(errors({ EGRESS_HTTP_PROXY_DESTINATION: '*', EGRESS_HTTP_PROXY_DESTINATION_FILE: '/config/proxy' })).toEqual([
      'EGRESS_HTTP_PROXY_DESTINATION_FILE: set together with EGRESS_HTTP_PROXY_DESTINATION; use one or the other',
    ]);
  });

  it('names a file it cannot read', () => {
    expect(errors({ EGRESS_HTTP_PROXY_DESTINATION_FILE: '/missing' })).toEqual(["EGRESS_HTTP_PROXY_DESTINATION_FILE '/missing': cannot read: no such file"]);
  });

  it('names the file and the line of a bad rule in it', () => {
    files['/config/bad'] = 'example.com\nfoo bar\n';
    expect(errors({ EGRESS_HTTP_PROXY_DESTINATION_FILE: '/config/bad' })).toEqual([
      "EGRESS_HTTP_PROXY_DESTINATION_FILE /config/bad line 2: bad destination: one name, address or network per line (in 'foo bar')",
    ]);
  });

  it('reports every problem at once', () => {
    expect(
      errors({
        EGRESS_HTTP_PROXY_DESTINATION: '*\nexample.com',
        EGRESS_HTTP_PROXY_PORT: '0',
        EGRESS_HTTP_PROXY_MAX_CONNECTIONS: '-5',
        EGRESS_HTTP_PROXY_ACCESS_LOG: 'maybe',
        EGRESS_HTTP_PROXY_TIMEOUTS: 'header=10h connect=5ms',
        EGRESS_HTTP_PROXY_MODE: 'serve',
        EGRESS_ROUTER_CLUSTER_INTERFACE: 'eth0; rm -rf /',
      }),
    ).toEqual([
      "EGRESS_HTTP_PROXY_DESTINATION line 2: a rule follows '*' on line 1; '*' (everything else) must be the last rule (in 'example.com')",
      "EGRESS_HTTP_PROXY_PORT: invalid port '0', must be a number from 1 to 65535",
      "EGRESS_HTTP_PROXY_MAX_CONNECTIONS: invalid value '-5'; expected a whole number from 1 to 1000000",
      "EGRESS_HTTP_PROXY_ACCESS_LOG: invalid value 'maybe'; expected 1, true, yes or on (or 0, false, no, off)",
      "EGRESS_HTTP_PROXY_TIMEOUTS: invalid item 'header=10h'; expected NAME=DURATION with NAME one of header, idle, connect, read, shutdown and DURATION like 500ms, 10s or 2m",
      "EGRESS_HTTP_PROXY_TIMEOUTS: connect 'connect=5ms' is out of range; use 100ms to 24 hours",
      "EGRESS_HTTP_PROXY_MODE: unrecognized value 'serve'; expected unit-test, or leave it unset to serve",
      "EGRESS_ROUTER_CLUSTER_INTERFACE: invalid interface name 'eth0; rm -rf /'; use 1-15 letters, digits, '_', '.' or '-'",
    ]);
  });

  it('keeps warnings apart from errors', () => {
    const result = settings({ EGRESS_HTTP_PROXY_DESTINATION: '10.1.2.3/8' });
    expect(result.ok && result.value.warnings.map(formatProblem)).toEqual([
      "EGRESS_HTTP_PROXY_DESTINATION line 1: 10.1.2.3/8 has host bits set; it is read as the network 10.0.0.0/8, as squid read it (in '10.1.2.3/8')",
    ]);
  });

  it('recognizes a proxy container by its list, inline or from a file', () => {
    expect(hasProxyList({ EGRESS_HTTP_PROXY_DESTINATION: '*' })).toBe(true);
    expect(hasProxyList({ EGRESS_HTTP_PROXY_DESTINATION_FILE: '/config/proxy' })).toBe(true);
    expect(hasProxyList({ EGRESS_HTTP_PROXY_DESTINATION: '', EGRESS_DESTINATION: '80 tcp 203.0.113.25' })).toBe(false);
  });
});
