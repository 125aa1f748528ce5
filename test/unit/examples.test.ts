/**
 * The examples are documentation an administrator copies: every router container in them must
 * configure cleanly with this router's own configuration parser.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/config.js';
import { parseDestinations } from '../../src/config/destinations.js';
import { parseHttpProxySettings } from '../../src/http-proxy/settings.js';
import { formatProblem } from '../../src/problem.js';

const DIR = new URL('../../examples/', import.meta.url);
type Doc = Record<string, any>;
const documents: Doc[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(new URL(f, DIR), 'utf8')).map((d) => ({ ...(d.toJS() as Doc), file: f })));
const configMaps = new Map(documents.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata.name as string, d.data as Record<string, string>]));

const routerContainers = documents
  .filter((d) => d.kind === 'Pod')
  .flatMap((pod) => [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c: Doc) => ({ pod, container: c })))
  .filter(({ container }) => (container.env ?? []).some((e: Doc) => e.name === 'EGRESS_SOURCE'));

/** The environment Kubernetes would give the container, with ConfigMap keys and mounts resolved. */
function environment(pod: Doc, container: Doc): { env: Record<string, string>; files: Map<string, string> } {
  const env: Record<string, string> = {};
  for (const e of container.env as Doc[]) {
    const ref = e.valueFrom?.configMapKeyRef;
    env[e.name] = ref ? configMaps.get(ref.name)![ref.key]! : e.value;
  }
  const files = new Map<string, string>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.spec.volumes.find((v: Doc) => v.name === mount.name);
    for (const [key, value] of Object.entries(configMaps.get(volume.configMap.name) ?? {})) files.set(`${mount.mountPath}/${key}`, value);
  }
  return { env, files };
}

describe('examples', () => {
  it('include the pod specs the README promises', () => {
    expect(routerContainers.map(({ pod }) => pod.file).sort()).toEqual([
      'multus-nad.yaml',
      'pod-configmap-env.yaml',
      'pod-configmap-file.yaml',
      'pod-dns-proxy.yaml',
      'pod-http-proxy-one-container.yaml',
      'pod-http-proxy.yaml',
      'pod-init.yaml',
      'pod-legacy.yaml',
      'pod-live.yaml',
    ]);
  });

  const proxyContainers = documents
    .filter((d) => d.kind === 'Pod')
    .flatMap((pod) => [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c: Doc) => ({ pod, container: c })))
    .filter(({ container }) => (container.env ?? []).some((e: Doc) => e.name === 'EGRESS_HTTP_PROXY_DESTINATION'));

  it.each(proxyContainers.map(({ pod, container }) => [pod.file, pod, container]))('%s: the HTTP proxy list and settings parse cleanly', (_file, pod, container) => {
    const { env, files } = environment(pod, container);
    const result = parseHttpProxySettings(env, (path) => (files.has(path) ? { ok: true, text: files.get(path)! } : { ok: false, reason: 'no such file' }));
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([]);
  });

  it('the two-container HTTP proxy pod runs its proxy container without capabilities, as non-root, read-only', () => {
    const pod = documents.find((d) => d.file === 'pod-http-proxy.yaml' && d.kind === 'Pod')!;
    const [proxy] = pod.spec.containers as Doc[];
    expect(proxy!.env.some((e: Doc) => e.name === 'EGRESS_SOURCE')).toBe(false);
    expect(proxy!.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(proxy!.securityContext.capabilities.add).toBeUndefined();
    expect(pod.spec.initContainers[0].env).toContainEqual({ name: 'EGRESS_ROUTER_MODE', value: 'http-proxy' });
    const service = documents.find((d) => d.file === 'pod-http-proxy.yaml' && d.kind === 'Service')!;
    expect(pod.metadata.labels).toMatchObject(service.spec.selector);
  });

  it.each(routerContainers.map(({ pod, container }) => [pod.file, pod, container]))('%s configures cleanly', (_file, pod, container) => {
    const { env, files } = environment(pod, container);
    const result = parseConfig(env, (path) => (files.has(path) ? { ok: true, text: files.get(path)! } : { ok: false, reason: 'no such file' }));
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([]);
  });

  it('the destination list validates', () => {
    const { problems, list } = parseDestinations(readFileSync(new URL('destinations.txt', DIR), 'utf8'), { origin: 'examples/destinations.txt' });
    expect(problems).toEqual([]);
    expect(list.fallback).toBeDefined();
  });

  it('the Multus pod requests its NetworkAttachmentDefinition as macvlan0', () => {
    const nad = documents.find((d) => d.kind === 'NetworkAttachmentDefinition')!;
    const pod = documents.find((d) => d.file === 'multus-nad.yaml' && d.kind === 'Pod')!;
    expect(pod.metadata.annotations['k8s.v1.cni.cncf.io/networks']).toBe(`${nad.metadata.name}@macvlan0`);
    expect(JSON.parse(nad.spec.config)).toMatchObject({ type: 'macvlan', ipam: {} });
  });

  it('the long-running pod probes and exposes the status endpoint on its configured port', () => {
    const pod = documents.find((d) => d.file === 'pod-live.yaml')!;
    const container = pod.spec.containers[0];
    const { env, files } = environment(pod, container);
    const result = parseConfig(env, (path) => (files.has(path) ? { ok: true, text: files.get(path)! } : { ok: false, reason: 'no such file' }));
    const port = result.ok ? result.value.statusPort : NaN;
    expect(container.ports).toContainEqual({ name: 'status', containerPort: port });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'status' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'status' });
    expect(pod.metadata.annotations['prometheus.io/port']).toBe(String(port));
  });

  it('the Service selects the init-mode pod', () => {
    const service = documents.find((d) => d.kind === 'Service' && d.file === 'service.yaml')!;
    const pod = documents.find((d) => d.file === 'pod-init.yaml')!;
    expect(pod.metadata.labels).toMatchObject(service.spec.selector);
  });
});
