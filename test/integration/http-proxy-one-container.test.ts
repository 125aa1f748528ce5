/**
 * The HTTP proxy in a one-container pod: `EGRESS_ROUTER_MODE=http-proxy` with the source, the
 * gateway and the proxy's list configures the network and serves the proxy in the same process,
 * on a Calico-style pod whose cluster DNS service is reachable only through the original default
 * route; the list's ConfigMap is followed without a restart.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ConfigMapDir } from '../support/configmap.js';
import { DnsServer } from '../support/dns-server.js';
import { httpGet } from '../support/http.js';
import { describeIntegration } from '../support/integration.js';
import { waitForOutput } from '../support/output.js';
import { ADDRESSES, ROOT, Topology, routerEnv } from '../support/topology.js';

const [D1, D2] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;
const CLUSTER_DNS = '172.30.0.10';

describeIntegration('HTTP proxy in a one-container pod (Calico-style)', () => {
  let topology: Topology;
  let dns: DnsServer;
  let dir: string;
  let configMap: ConfigMapDir;
  let router: ResultPromise | undefined;
  let servers: ResultPromise | undefined;

  beforeEach(async () => {
    topology = await Topology.create({ style: 'calico' });
    await topology.exec(topology.ns.cluster, ['ip', 'addr', 'add', `${CLUSTER_DNS}/32`, 'dev', 'lo']);
    dns = await DnsServer.start(topology.ns.cluster, CLUSTER_DNS, [
      { name: 'allowed.example.com', addresses: [D1], ttl: 60 },
      { name: 'later.example.com', addresses: [D2], ttl: 60 },
    ]);
    dir = mkdtempSync(join(tmpdir(), 'ert-http-one-'));
    writeFileSync(join(dir, 'resolv.conf'), `nameserver ${CLUSTER_DNS}\noptions timeout:1 attempts:1\n`);
    servers = execa('ip', ['netns', 'exec', topology.ns.lan, process.execPath, `${ROOT}/test/fixtures/http-server.mjs`, `http:${D1}:80`, `http:${D2}:80`], { reject: false });
    await waitForOutput(servers, 'ready', 'destination servers');
  });
  afterEach(async () => {
    router?.kill('SIGKILL');
    servers?.kill('SIGKILL');
    await Promise.allSettled([router, servers]);
    await dns.stop();
    await topology.destroy();
    configMap?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A request through the proxy from the client pod: the status code, and the peer the server saw. */
  async function get(url: string): Promise<{ status: number; peer?: string }> {
    const result = await topology.exec(topology.ns.client, ['curl', '-sS', '-m', '3', '-x', `http://${POD}:8080`, '-o', '-', '-w', '\n%{http_code}', url]).catch((e: Error) => e.message);
    const lines = result.split('\n');
    const status = Number(lines.pop());
    const body = lines.join('\n');
    return { status, peer: status === 200 ? (JSON.parse(body) as { peer: string }).peer : undefined };
  }

  it('configures the network, then serves the proxy from EGRESS_SOURCE, resolving through the cluster DNS, and follows its list', async () => {
    configMap = new ConfigMapDir({ list: 'allowed.example.com\n' });
    router = topology.startRouter(
      routerEnv({
        EGRESS_ROUTER_MODE: 'http-proxy',
        EGRESS_HTTP_PROXY_DESTINATION_FILE: configMap.path('list'),
        EGRESS_ROUTER_RESOLV_CONF: join(dir, 'resolv.conf'),
      }),
    );
    const output = await waitForOutput(router, 'egress router ready', 'the router');
    expect(output()).toContain('http proxy ready');
    expect(await topology.exec(topology.ns.router, ['ip', 'route', 'show', 'default'])).toContain('via 192.168.12.1 dev macvlan0');
    expect(await get('http://allowed.example.com/one')).toEqual({ status: 200, peer: ADDRESSES.source });
    expect((await get('http://later.example.com/two')).status).toBe(403);
    expect((await httpGet(topology.ns.client, `http://${POD}:9552/readyz`)).status).toBe(200);

    configMap.update({ list: 'allowed.example.com\nlater.example.com\n' });
    const started = performance.now();
    while ((await get('http://later.example.com/two')).status !== 200) {
      if (performance.now() - started > 2000) throw new Error('the new list was not applied within 2 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(output()).toContain('http proxy access list updated');
  });
});
