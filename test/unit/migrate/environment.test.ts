/** Resolving a router container's environment as the kubelet would. */
import { describe, expect, it } from 'vitest';
import { ConfigMaps, isRouterContainer, resolveEnvironment } from '../../../src/commands/migrate/environment.js';
import type { Fields, InputObject } from '../../../src/commands/migrate/objects.js';
import { formatProblem } from '../../../src/problem.js';

const configMap = (name: string, data: Record<string, string>, namespace = 'ns'): InputObject => ({
  object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data },
  kind: 'ConfigMap',
  name,
  namespace,
  where: 'test',
});
const MAPS = new ConfigMaps([
  configMap('routes', { destination: '80 tcp 203.0.113.25\n' }),
  configMap('router', { SOURCE: '192.168.12.99/24', GATEWAY: '192.168.12.1', EGRESS_ROUTER_MODE: 'init' }),
  configMap('routes', { destination: 'elsewhere' }, 'other'),
]);

const settings = (container: Fields) => {
  const resolved = resolveEnvironment(container, 'ns', MAPS);
  return {
    values: Object.fromEntries([...resolved.settings].map(([k, s]) => [k, s.from ? `${s.value} <- ${s.from}` : s.value])),
    unseen: Object.fromEntries(resolved.unseen),
    problems: resolved.problems.map(formatProblem),
  };
};

describe('migrate container environment', () => {
  it('resolves configMapKeyRef from a ConfigMap of the same namespace and remembers where the value came from', () => {
    const env = [{ name: 'EGRESS_DESTINATION', valueFrom: { configMapKeyRef: { name: 'routes', key: 'destination' } } }];
    expect(settings({ env }).values).toEqual({ EGRESS_DESTINATION: '80 tcp 203.0.113.25\n <- ConfigMap routes, key destination' });
  });

  it('names a missing ConfigMap and a missing key, unless the reference is optional', () => {
    const env = [
      { name: 'EGRESS_DESTINATION', valueFrom: { configMapKeyRef: { name: 'absent', key: 'destination' } } },
      { name: 'EGRESS_SOURCE', valueFrom: { configMapKeyRef: { name: 'routes', key: 'source' } } },
      { name: 'EGRESS_GATEWAY', valueFrom: { configMapKeyRef: { name: 'absent', key: 'gateway', optional: true } } },
    ];
    const result = settings({ env });
    expect(result.problems).toEqual([
      "EGRESS_DESTINATION: comes from key 'destination' of ConfigMap ns/absent, which is not among the inputs; add it (oc get configmap absent -n ns -o yaml)",
      "EGRESS_SOURCE: comes from ConfigMap ns/routes, which has no key 'source'",
    ]);
    expect(result.values).toEqual({});
  });

  it('applies envFrom with its prefix first and lets env entries override it', () => {
    const container = {
      envFrom: [{ configMapRef: { name: 'router' }, prefix: 'EGRESS_' }, { configMapRef: { name: 'router' } }],
      env: [{ name: 'EGRESS_GATEWAY', value: '192.168.12.254' }],
    };
    expect(settings(container).values).toEqual({
      EGRESS_SOURCE: '192.168.12.99/24 <- ConfigMap router, key SOURCE',
      EGRESS_GATEWAY: '192.168.12.254',
      EGRESS_ROUTER_MODE: 'init <- ConfigMap router, key EGRESS_ROUTER_MODE',
    });
  });

  it('marks values from Secrets and pod fields as unseen instead of guessing them', () => {
    const env = [
      { name: 'EGRESS_SOURCE', valueFrom: { secretKeyRef: { name: 'egress', key: 'source' } } },
      { name: 'EGRESS_GATEWAY', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
    ];
    expect(settings({ env }).unseen).toEqual({
      EGRESS_SOURCE: "Secret 'egress', which migrate does not read",
      EGRESS_GATEWAY: 'fieldRef, which is only known in the running pod',
    });
  });

  it("ignores the proxies' own variables: they configure the proxy container, not the router", () => {
    const proxy = { image: 'registry.redhat.io/openshift4/ose-egress-http-proxy', env: [{ name: 'EGRESS_HTTP_PROXY_DESTINATION', value: '*' }] };
    expect(isRouterContainer(proxy, 'ns', MAPS)).toBe(false);
    expect(settings(proxy).values).toEqual({});
  });

  it('finds a router container by its variables, directly or through envFrom, whatever its image', () => {
    expect(isRouterContainer({ image: 'mirror.example.com/any/name', env: [{ name: 'EGRESS_ROUTER_MODE', value: 'init' }] }, 'ns', MAPS)).toBe(true);
    expect(isRouterContainer({ envFrom: [{ configMapRef: { name: 'router' } }] }, 'ns', MAPS)).toBe(true);
    expect(isRouterContainer({ image: 'registry.redhat.io/openshift4/ose-egress-router' }, 'ns', MAPS)).toBe(false);
  });
});
