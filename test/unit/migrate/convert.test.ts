/** Conversions beyond the documentation's examples: the edges of both targets. */
import { parseAllDocuments, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { migrate } from './run.js';

type Env = Array<Record<string, unknown>>;

const ENV: Env = [
  { name: 'EGRESS_SOURCE', value: '192.168.12.99/24' },
  { name: 'EGRESS_GATEWAY', value: '192.168.12.1' },
  { name: 'EGRESS_DESTINATION', value: '80 tcp 203.0.113.25\n' },
  { name: 'EGRESS_ROUTER_MODE', value: 'init' },
];

interface WorkloadOptions {
  kind?: string;
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  env?: Env;
  /** Extra fields of the Pod's (or the template's) metadata, such as ownerReferences. */
  metadata?: Record<string, unknown>;
  containers?: Array<Record<string, unknown>>;
}

const API_VERSIONS: Record<string, string> = { Pod: 'v1', ReplicationController: 'v1', DeploymentConfig: 'apps.openshift.io/v1' };

/** A legacy router workload in the documentation's shape, with whatever the test changes. */
function workload(o: WorkloadOptions = {}): Record<string, unknown> {
  const { kind = 'Pod', name = 'egress', labels = { name: o.name ?? 'egress' } } = o;
  const annotations = o.annotations ?? { 'pod.network.openshift.io/assign-macvlan': 'true' };
  const spec = {
    initContainers: [{ name: 'egress-router', image: 'registry.redhat.io/openshift4/ose-egress-router', securityContext: { privileged: true }, env: o.env ?? ENV }],
    containers: o.containers ?? [{ name: 'egress-router-wait', image: 'registry.redhat.io/openshift4/ose-pod' }],
  };
  const metadata = { name, ...(o.namespace ? { namespace: o.namespace } : {}) };
  if (kind === 'Pod') return { apiVersion: 'v1', kind, metadata: { ...metadata, labels, annotations, ...o.metadata }, spec };
  const template = { metadata: { labels, annotations, ...o.metadata }, spec };
  return { apiVersion: API_VERSIONS[kind] ?? 'apps/v1', kind, metadata, spec: { replicas: 1, selector: { matchLabels: labels }, template } };
}

function service(name: string, selector: Record<string, string>, ports: Array<Record<string, unknown>> = [{ port: 80 }], namespace?: string) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, ...(namespace ? { namespace } : {}) }, spec: { ports, selector } };
}

const run = (objects: Array<Record<string, unknown>>, ...args: string[]) =>
  migrate([...args, '-'], objects.map((o) => stringify(o)).join('---\n'));

const printed = (stdout: string): Array<Record<string, any>> => parseAllDocuments(stdout).map((d) => d.toJS());

/** The documentation's variables with one of them taken from elsewhere (a ConfigMap, a Secret). */
const envFrom = (variable: string, valueFrom: Record<string, unknown>): Env => ENV.map((e) => (e.name === variable ? { name: variable, valueFrom } : e));

const env = (changes: Record<string, string>): Env => [
  ...ENV.filter((e) => !(String(e.name) in changes)),
  ...Object.entries(changes).map(([name, value]) => ({ name, value })),
];

describe('migrate to EgressRouter', () => {
  it('makes a bare source a /32 and keeps IPv6 with its prefix', async () => {
    const v4 = await run([workload({ env: env({ EGRESS_SOURCE: '192.168.12.99' }) })]);
    expect(printed(v4.stdout)[0]!.spec.addresses).toEqual([{ ip: '192.168.12.99/32', gateway: '192.168.12.1' }]);
    const v6 = await run([workload({ env: env({ EGRESS_SOURCE: '2001:db8:12::99/64', EGRESS_GATEWAY: '2001:db8:12::1', EGRESS_DESTINATION: '53 udp 2001:db8::53\n' }) })]);
    expect(printed(v6.stdout)[0]!.spec).toMatchObject({
      addresses: [{ ip: '2001:db8:12::99/64', gateway: '2001:db8:12::1' }],
      redirect: { redirectRules: [{ destinationIP: '2001:db8::53', port: 53, protocol: 'UDP' }] },
    });
  });

  it('writes protocols in upper case, sctp included, and no fallbackIP without a fallback line', async () => {
    const result = await run([workload({ env: env({ EGRESS_DESTINATION: '80 tcp 203.0.113.25\n9899 SCTP 203.0.113.26 9900\n' }) })]);
    expect(printed(result.stdout)[0]!.spec.redirect).toEqual({
      redirectRules: [
        { destinationIP: '203.0.113.25', port: 80, protocol: 'TCP' },
        { destinationIP: '203.0.113.26', port: 9899, protocol: 'SCTP', targetPort: 9900 },
      ],
    });
  });

  it('finds the pod template of a Deployment, DeploymentConfig, ReplicationController and ReplicaSet', async () => {
    for (const kind of ['Deployment', 'DeploymentConfig', 'ReplicationController', 'ReplicaSet']) {
      const result = await run([workload({ kind, namespace: `ns-${kind.toLowerCase()}` })]);
      expect(result.code, kind).toBe(0);
      expect(printed(result.stdout)[0]).toMatchObject({ kind: 'EgressRouter', metadata: { name: 'egress', namespace: `ns-${kind.toLowerCase()}` } });
    }
  });

  it('converts a Deployment once when its ReplicaSet and Pods come along, as oc get all prints them', async () => {
    const owner = (kind: string, name: string) => ({ ownerReferences: [{ apiVersion: 'apps/v1', kind, name, controller: true, uid: 'x' }] });
    const labels = { name: 'egress', 'pod-template-hash': '5d8f' };
    const result = await run([
      workload({ kind: 'Deployment', labels: { name: 'egress' } }),
      { ...workload({ kind: 'ReplicaSet', name: 'egress-5d8f', labels }), metadata: { name: 'egress-5d8f', ...owner('Deployment', 'egress') } },
      workload({ name: 'egress-5d8f-abcde', labels, metadata: owner('ReplicaSet', 'egress-5d8f') }),
      workload({ name: 'egress-5d8f-fghij', labels, metadata: owner('ReplicaSet', 'gone') }),
    ]);
    expect(result.code).toBe(0);
    expect(printed(result.stdout).map((d) => d.metadata.name)).toEqual(['egress']);
    expect(result.stderr).toContain('ReplicaSet egress-5d8f: skipped: converted through Deployment egress, which controls it');
    expect(result.stderr).toContain('Pod egress-5d8f-abcde: skipped: converted through Deployment egress');
    expect(result.stderr).toContain('Pod egress-5d8f-fghij: skipped: converted through Deployment egress');
  });

  it('converts a controlled Pod whose controller is not in the input, and says to migrate the controller', async () => {
    const owner = { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'egress-5d8f', controller: true, uid: 'x' }] };
    const result = await run([workload({ name: 'egress-5d8f-abcde', metadata: owner })]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Pod egress-5d8f-abcde: controlled by ReplicaSet egress-5d8f, which is not among the inputs; migrate that controller instead');
  });

  it('refuses a second router in one namespace, because the operator runs them all as one Deployment', async () => {
    const result = await run([workload({ name: 'one', namespace: 'ns' }), workload({ name: 'two', namespace: 'ns' }), workload({ name: 'three', namespace: 'other' })]);
    expect(result.code).toBe(1);
    expect(printed(result.stdout).map((d) => d.metadata.name)).toEqual(['one', 'three']);
    expect(result.stderr).toContain('Pod ns/two: refused: namespace ns already gets EgressRouter one from this input');
    expect(result.stderr).toContain('use --to multus');
  });

  it('resolves a named targetPort of a retargeted Service, since the operator pod names no ports', async () => {
    const pod = workload({ containers: [{ name: 'wait', image: 'ose-pod', ports: [{ name: 'web', containerPort: 8080 }] }] });
    const ok = await run([pod, service('egress', { name: 'egress' }, [{ port: 80, targetPort: 'web' }])]);
    expect(printed(ok.stdout)[1]!.spec).toEqual({ ports: [{ port: 80, targetPort: 8080 }], selector: { app: 'egress-router-cni' } });
    const missing = await run([workload(), service('egress', { name: 'egress' }, [{ port: 80, targetPort: 'web' }])]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("Service egress: refused: its targetPort 'web' names a port that no container of the old pod declares");
  });

  it('leaves Services alone that select other pods, live in another namespace or select nothing', async () => {
    const result = await run([
      workload({ namespace: 'ns' }),
      service('other-pods', { name: 'web' }, undefined, 'ns'),
      service('other-namespace', { name: 'egress' }, undefined, 'elsewhere'),
      service('headless', {}, undefined, 'ns'),
    ]);
    expect(printed(result.stdout).map((d) => d.kind)).toEqual(['EgressRouter']);
  });

  it('names a NIC from the SDN annotation as master, and refuses a pod that the SDN gave no macvlan', async () => {
    const nic = await run([workload({ annotations: { 'pod.network.openshift.io/assign-macvlan': 'ens3f1' } })]);
    expect(printed(nic.stdout)[0]!.spec.networkInterface).toEqual({ macvlan: { mode: 'Bridge', master: 'ens3f1' } });
    for (const annotations of [{}, { 'pod.network.openshift.io/assign-macvlan': 'false' }] as Array<Record<string, string>>) {
      const none = await run([workload({ annotations })]);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('so OpenShift SDN gave it no macvlan interface');
    }
    const bad = await run([workload({ annotations: { 'pod.network.openshift.io/assign-macvlan': 'eth1; reboot' } })]);
    expect(bad.stderr).toContain('which is neither "true" nor a network interface name');
  });

  it('refuses modes and settings an EgressRouter cannot express, each with its reason', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ EGRESS_ROUTER_MODE: 'dns-proxy' }, 'EGRESS_ROUTER_MODE is dns-proxy; an EgressRouter has redirect mode only'],
      [{ EGRESS_ROUTER_MODE: 'unit-test' }, 'EGRESS_ROUTER_MODE is unit-test, which only prints rules'],
      [{ EGRESS_ROUTER_DRY_RUN: 'true' }, 'EGRESS_ROUTER_DRY_RUN is set; an EgressRouter cannot be a dry run'],
      [{ EGRESS_DESTINATION_FILE: '/etc/egress/destinations' }, 'EGRESS_DESTINATION_FILE names /etc/egress/destinations, a file inside the pod that migrate cannot read'],
    ];
    for (const [changes, reason] of cases) {
      const result = await run([workload({ env: env(changes) })]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`Pod egress: refused: ${reason}`);
    }
  });

  it('refuses a list that names hosts by DNS name, naming the lines, since an EgressRouter takes addresses only', async () => {
    const result = await run([workload({ env: env({ EGRESS_DESTINATION: '80 tcp 203.0.113.25\n5432 tcp db.example.com\nbackup.example.com\n' }) })]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      'Pod egress: refused: the destination list names hosts by DNS name on line 2 (db.example.com), line 3 (backup.example.com); an EgressRouter takes IP addresses only (use --to multus to keep the names)',
    );
  });

  it('says which of the settings it dropped, and still converts', async () => {
    const result = await run([workload({ env: env({ EGRESS_ROUTER_DEBUG: '1' }) })]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Pod egress: EGRESS_ROUTER_DEBUG dropped: an EgressRouter has no debug setting');
  });

  it('names the ConfigMap in the reason when a value from it is invalid', async () => {
    const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'routes' }, data: { destination: '80 tcp 203.0.113.25\n99999 tcp 203.0.113.26\n' } };
    const result = await run([configMap, workload({ env: envFrom('EGRESS_DESTINATION', { configMapKeyRef: { name: 'routes', key: 'destination' } }) })]);
    expect(result.stderr).toContain("Pod egress: refused: EGRESS_DESTINATION (ConfigMap routes, key destination) line 2: invalid port '99999'");
  });

  it('refuses a value it cannot see, such as one from a Secret', async () => {
    const secretEnv = envFrom('EGRESS_SOURCE', { secretKeyRef: { name: 'egress', key: 'source' } });
    const result = await run([workload({ env: secretEnv })]);
    expect(result.stderr).toContain("Pod egress: refused: EGRESS_SOURCE comes from Secret 'egress', which migrate does not read; an EgressRouter needs the value itself");
  });

  it('exits 1 and says so when the input has no egress router at all', async () => {
    const result = await run([service('web', { app: 'web' })]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('migrate: no egress router found');
  });
});

describe('migrate to Multus', () => {
  it('shares one attachment per namespace and NIC among routers, and requests it as the router interface', async () => {
    const result = await run(
      [
        workload({ name: 'one', namespace: 'ns' }),
        workload({ name: 'two', namespace: 'ns', env: env({ EGRESS_ROUTER_INTERFACE: 'egress0' }) }),
        workload({ name: 'three', namespace: 'ns', annotations: { 'pod.network.openshift.io/assign-macvlan': 'Bond0_1' } }),
      ],
      '--to',
      'multus',
    );
    expect(result.code).toBe(0);
    const documents = printed(result.stdout);
    expect(documents.map((d) => `${d.kind} ${d.metadata.name}`)).toEqual([
      'NetworkAttachmentDefinition egress-router-macvlan',
      'Pod one',
      'Pod two',
      'NetworkAttachmentDefinition egress-router-macvlan-bond0-1',
      'Pod three',
    ]);
    expect(documents.map((d) => d.metadata.annotations?.['k8s.v1.cni.cncf.io/networks']).filter(Boolean)).toEqual([
      'egress-router-macvlan@macvlan0',
      'egress-router-macvlan@egress0',
      'egress-router-macvlan-bond0-1@macvlan0',
    ]);
    expect(JSON.parse(documents[3]!.spec.config)).toEqual({ cniVersion: '0.3.1', name: 'egress-router-macvlan-bond0-1', type: 'macvlan', master: 'Bond0_1', mode: 'bridge', ipam: {} });
  });

  it('adds to a networks annotation the pod already has, in its list or JSON form', async () => {
    const sdn = { 'pod.network.openshift.io/assign-macvlan': 'true' };
    const list = await run([workload({ annotations: { ...sdn, 'k8s.v1.cni.cncf.io/networks': 'ns/storage' } })], '--to', 'multus');
    expect(printed(list.stdout)[1]!.metadata.annotations).toEqual({ 'k8s.v1.cni.cncf.io/networks': 'ns/storage,egress-router-macvlan@macvlan0' });
    const json = await run([workload({ annotations: { ...sdn, 'k8s.v1.cni.cncf.io/networks': '[{"name":"storage"}]' } })], '--to', 'multus');
    expect(JSON.parse(printed(json.stdout)[1]!.metadata.annotations['k8s.v1.cni.cncf.io/networks'])).toEqual([
      { name: 'storage' },
      { name: 'egress-router-macvlan', interface: 'macvlan0' },
    ]);
  });

  it('drops status and server-filled metadata from the rewritten workload, and keeps the rest', async () => {
    const pod = workload({ metadata: { uid: 'u', resourceVersion: '7', creationTimestamp: '2024-01-01T00:00:00Z' } });
    (pod.metadata as Record<string, unknown>).annotations = {
      'pod.network.openshift.io/assign-macvlan': 'true',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
      'team.example.com/owner': 'network',
    };
    const result = await run([{ ...pod, status: { phase: 'Running' }, spec: { ...(pod.spec as object), nodeSelector: { site: 'springfield-1' } } }], '--to', 'multus');
    const rewritten = printed(result.stdout)[1]!;
    expect(rewritten.status).toBeUndefined();
    expect(rewritten.metadata).toEqual({
      name: 'egress',
      labels: { name: 'egress' },
      annotations: { 'team.example.com/owner': 'network', 'k8s.v1.cni.cncf.io/networks': 'egress-router-macvlan@macvlan0' },
    });
    expect(rewritten.spec.nodeSelector).toEqual({ site: 'springfield-1' });
  });

  it('replaces the image of every router container and of no other', async () => {
    const legacy = { name: 'egress-router-legacy', image: 'openshift/origin-egress-router', env: [{ name: 'EGRESS_ROUTER_MODE', value: 'legacy' }, ...ENV.slice(0, 3)] };
    const result = await run([workload({ containers: [legacy, { name: 'sidecar', image: 'busybox' }] })], '--to', 'multus', '--image', 'registry.example.com/egress-router:1');
    const spec = printed(result.stdout)[1]!.spec;
    expect(spec.initContainers[0].image).toBe('registry.example.com/egress-router:1');
    expect(spec.containers.map((c: { image: string }) => c.image)).toEqual(['registry.example.com/egress-router:1', 'busybox']);
  });

  it('keeps a list that names hosts by DNS name, which this project’s router resolves', async () => {
    const list = '5432 tcp db.example.com\nbackup.example.com\n';
    const result = await run([workload({ env: env({ EGRESS_DESTINATION: list }) })], '--to', 'multus');
    expect(result.code).toBe(0);
    const router = printed(result.stdout)[1]!.spec.initContainers[0];
    expect(router.env.find((e: { name: string }) => e.name === 'EGRESS_DESTINATION').value).toBe(list);
  });

  it('converts a router whose values it cannot see, and says they were not checked', async () => {
    const secretEnv = envFrom('EGRESS_SOURCE', { secretKeyRef: { name: 'egress', key: 'source' } });
    const result = await run([workload({ env: secretEnv })], '--to', 'multus');
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("Pod egress: not checked: EGRESS_SOURCE comes from Secret 'egress', which migrate does not read");
  });

  it('still refuses a router that would not start: an invalid list or a missing ConfigMap', async () => {
    const bad = await run([workload({ env: env({ EGRESS_DESTINATION: '80 tcp 203.0.113.25\n203.0.113.27\n443 tcp 203.0.113.26\n' }) })], '--to', 'multus');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Pod egress: refused: EGRESS_DESTINATION line 3: a rule follows the fallback address on line 2');
    const fromConfigMap = envFrom('EGRESS_DESTINATION', { configMapKeyRef: { name: 'routes', key: 'd' } });
    const missing = await run([workload({ env: fromConfigMap })], '--to', 'multus');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("Pod egress: refused: EGRESS_DESTINATION: comes from key 'd' of ConfigMap routes, which is not among the inputs");
  });

  const proxyRouterEnv = (mode: string): Env => [...ENV.filter((e) => e.name !== 'EGRESS_DESTINATION' && e.name !== 'EGRESS_ROUTER_MODE'), { name: 'EGRESS_ROUTER_MODE', value: mode }];

  it('runs the legacy HTTP and DNS proxy containers on the new image, found by their variables whatever their image', async () => {
    const http = { name: 'proxy', image: 'mirror.example.com/squid-egress', env: [{ name: 'EGRESS_HTTP_PROXY_DESTINATION', value: '*.example.com\n' }] };
    const dnsFromConfigMap = { name: 'dns', image: 'mirror.example.com/haproxy-egress', envFrom: [{ configMapRef: { name: 'dns-settings' } }] };
    const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dns-settings' }, data: { EGRESS_DNS_PROXY_DESTINATION: '53 203.0.113.53\n' } };
    const result = await run([workload({ env: proxyRouterEnv('http-proxy'), containers: [http, dnsFromConfigMap, { name: 'sidecar', image: 'busybox' }] }), configMap], '--to', 'multus', '--image', 'registry.example.com/egress-router:1');
    expect(result.code).toBe(0);
    const spec = printed(result.stdout)[1]!.spec;
    expect(spec.containers.map((c: { image: string }) => c.image)).toEqual(['registry.example.com/egress-router:1', 'registry.example.com/egress-router:1', 'busybox']);
    expect(result.stderr).toContain('HTTP proxy container proxy image registry.example.com/egress-router:1 (was mirror.example.com/squid-egress)');
    expect(result.stderr).toContain('DNS proxy container dns image registry.example.com/egress-router:1 (was mirror.example.com/haproxy-egress)');
  });

  it("refuses an HTTP proxy list this proxy would refuse at start, naming the container and the line, and notes a list it cannot see", async () => {
    const bad = { name: 'proxy', image: 'squid', env: [{ name: 'EGRESS_HTTP_PROXY_DESTINATION', value: 'example.com\nlocalhost\n' }] };
    const refused = await run([workload({ env: proxyRouterEnv('http-proxy'), containers: [bad] })], '--to', 'multus');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      "Pod egress: refused: container proxy EGRESS_HTTP_PROXY_DESTINATION line 2: invalid name 'localhost': a name needs at least one dot (single-label names are not resolved) (in 'localhost')",
    );
    const unseen = { name: 'proxy', image: 'squid', env: [{ name: 'EGRESS_HTTP_PROXY_DESTINATION', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] };
    const noted = await run([workload({ env: proxyRouterEnv('http-proxy'), containers: [unseen] })], '--to', 'multus');
    expect(noted.code).toBe(0);
    expect(noted.stderr).toContain("Pod egress: container proxy: not checked: EGRESS_HTTP_PROXY_DESTINATION comes from Secret 's', which migrate does not read");
  });
});
