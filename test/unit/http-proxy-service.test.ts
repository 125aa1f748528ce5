/**
 * The service API the lead composes (startHttpProxy, updateRules, stop, the counters on the
 * registry it is given), in process, on the loopback interface only. Every request here is
 * decided by the proxy itself (403, 400): nothing is connected to.
 */
import http from 'node:http';
import net from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { resolverFor } from '../../src/names/resolver.js';
import { parseProxyRules } from '../../src/http-proxy/rules.js';
import { type HttpProxyService, startHttpProxy } from '../../src/http-proxy/server.js';
import { parseHttpProxySettings } from '../../src/http-proxy/settings.js';

const PORT = 20_000 + Math.floor(Math.random() * 20_000);
const noFiles = () => ({ ok: false as const, reason: 'no files here' });

function settings(list: string) {
  const parsed = parseHttpProxySettings({ EGRESS_HTTP_PROXY_DESTINATION: list, EGRESS_HTTP_PROXY_PORT: String(PORT), EGRESS_ROUTER_CLUSTER_INTERFACE: 'lo' }, noFiles);
  if (!parsed.ok) throw new Error(parsed.problems.map((p) => p.message).join('; '));
  return parsed.value;
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, path: url, agent: false });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the HTTP proxy service', () => {
  let service: HttpProxyService | undefined;
  afterEach(async () => {
    await service?.stop(100);
    service = undefined;
  });

  it('listens on the cluster interface, takes new rules, counts on the given registry, and stops', async () => {
    const registry = new Registry();
    const started = await startHttpProxy(settings('!192.0.2.1\n*'), { log: pino({ level: 'silent' }), registry, resolver: resolverFor({ nameservers: [], timeoutMs: 1000, attempts: 1 }) });
    expect(started.ok).toBe(true);
    if (!started.ok) return;
    service = started.value;
    expect(service.listening).toContain(`127.0.0.1:${PORT}`);

    expect(await get('http://192.0.2.1/')).toEqual({ status: 403, body: 'egress-router: 192.0.2.1 is denied by rule line 1\n' });
    service.updateRules(parseProxyRules('# reloaded\n!192.0.2.0/24\n*', 'test').rules);
    expect(await get('http://192.0.2.1/')).toEqual({ status: 403, body: 'egress-router: 192.0.2.1 is denied by rule line 2\n' });
    expect((await get('/origin-form')).status).toBe(400);
    expect((await get('http://127.0.0.1:9552/metrics')).status).toBe(403);

    const metrics = await registry.metrics();
    expect(metrics).toContain('egress_router_http_proxy_requests_total{kind="http",code="403"} 3');
    expect(metrics).toContain('egress_router_http_proxy_requests_total{kind="http",code="400"} 1');
    expect(metrics).toContain('egress_router_http_proxy_decisions_total{action="deny"} 2');
    expect(metrics).toMatch(/egress_router_http_proxy_connections \d+/);

    await service.stop(100);
    service = undefined;
    const refused = await new Promise<string>((resolve) => {
      const socket = net.connect(PORT, '127.0.0.1');
      socket.on('connect', () => resolve('connected'));
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('refuses to start without an address on the cluster interface', async () => {
    const started = await startHttpProxy(settings('*'), {
      log: pino({ level: 'silent' }),
      registry: new Registry(),
      resolver: resolverFor({ nameservers: [], timeoutMs: 1000, attempts: 1 }),
      interfaces: () => ({ lo: [] }),
    });
    expect(started).toEqual({
      ok: false,
      problems: [{ kind: 'environment', where: 'interface lo', message: 'has no IPv4 or global IPv6 address; the HTTP proxy listens only on the cluster interface (EGRESS_ROUTER_CLUSTER_INTERFACE)' }],
    });
  });
});
