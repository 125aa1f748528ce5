/** examples/pod-dns-proxy.yaml: the proxy container is the legacy one, runs unprivileged, and its list validates. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isDnsProxyContainer, parseDnsProxySettings } from '../../../src/dns-proxy/settings.js';
import { formatProblem } from '../../../src/problem.js';

type Doc = Record<string, any>;
const pod = parse(readFileSync(new URL('../../../examples/pod-dns-proxy.yaml', import.meta.url), 'utf8')) as Doc;
const proxy = (pod.spec.containers as Doc[]).find((c) => c.name === 'egress-dns-proxy')!;
const env = Object.fromEntries((proxy.env as Doc[]).map((e) => [e.name, e.value as string]));

describe('the DNS proxy example', () => {
  it('runs the proxy container as the legacy container, recognized by its environment alone', () => {
    expect(proxy.command).toBeUndefined();
    expect(proxy.args).toBeUndefined();
    expect(isDnsProxyContainer(env)).toBe(true);
  });

  it('has a list and settings that validate', () => {
    const settings = parseDnsProxySettings(env, () => ({ ok: false, reason: 'no files here' }));
    expect(settings.ok ? [] : settings.problems.map(formatProblem)).toEqual([]);
    expect(settings.ok && settings.value.list.rules.map((r) => r.port)).toEqual([80, 100, 8080, 8443]);
  });

  it('gives the proxy no capability and no root, and lets it listen on its ports below 1024', () => {
    expect(proxy.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(proxy.securityContext.capabilities.add).toBeUndefined();
    const start = Number((pod.spec.securityContext.sysctls as Doc[]).find((s) => s.name === 'net.ipv4.ip_unprivileged_port_start')!.value);
    const settings = parseDnsProxySettings(env, () => ({ ok: false, reason: 'no files here' }));
    expect(settings.ok && Math.min(...settings.value.list.rules.map((r) => r.port))).toBeGreaterThanOrEqual(start);
  });

  it('runs the init container in dns-proxy mode', () => {
    const init = (pod.spec.initContainers as Doc[])[0]!;
    expect((init.env as Doc[]).find((e) => e.name === 'EGRESS_ROUTER_MODE')!.value).toBe('dns-proxy');
  });
});
