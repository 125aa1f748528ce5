/**
 * examples/deployment-failover.yaml is what administrators copy to run failover: its router
 * configures cleanly with failover on, and it has what the README says failover needs.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../../src/config/config.js';
import { parseFailoverSettings } from '../../../src/failover/settings.js';
import { formatProblem } from '../../../src/problem.js';

type Doc = Record<string, any>;
const documents = parseAllDocuments(readFileSync(new URL('../../../examples/deployment-failover.yaml', import.meta.url), 'utf8')).map((d) => d.toJS() as Doc);
const deployment = documents.find((d) => d.kind === 'Deployment')!;
const service = documents.find((d) => d.kind === 'Service')!;
const pod = deployment.spec.template;
const container = pod.spec.containers[0];
const env = Object.fromEntries((container.env as Doc[]).map((e) => [e.name, e.value as string]));

describe('the failover Deployment example', () => {
  it('configures cleanly, with failover on', () => {
    const config = parseConfig(env, () => ({ ok: false, reason: 'no files' }));
    expect(config.ok ? [] : config.problems.map(formatProblem)).toEqual([]);
    const failover = parseFailoverSettings(env, config.ok ? config.value.mode : 'legacy');
    expect(failover.ok ? [] : failover.problems.map(formatProblem)).toEqual([]);
    expect(failover.ok && failover.value?.routerId).toBe(51);
  });

  it('runs two replicas on different nodes, behind a Service that selects them', () => {
    expect(deployment.spec.replicas).toBe(2);
    const rule = pod.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
    expect(rule.topologyKey).toBe('kubernetes.io/hostname');
    expect(pod.metadata.labels).toMatchObject(rule.labelSelector.matchLabels);
    expect(pod.metadata.labels).toMatchObject(service.spec.selector);
  });

  it('follows /readyz every second on the status port, so the Service reaches only the holder', () => {
    expect(container.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'status' }, periodSeconds: 1, failureThreshold: 1 });
    expect(container.ports).toContainEqual({ name: 'status', containerPort: 9552 });
  });

  it('mounts a writable directory for keepalived at EGRESS_ROUTER_VRRP_DIR under a read-only root, with only NET_ADMIN and NET_RAW', () => {
    const failover = parseFailoverSettings(env, 'legacy');
    const workDir = failover.ok ? failover.value!.workDir : '';
    const mount = (container.volumeMounts as Doc[]).find((m) => m.mountPath === workDir)!;
    expect(pod.spec.volumes.find((v: Doc) => v.name === mount.name).emptyDir).toBeDefined();
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] } });
  });

  it('rolls out without waiting for a second ready replica, which never comes', () => {
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
  });
});
