/**
 * The DNS proxy forwarded in the kernel: a one-container pod (EGRESS_ROUTER_MODE=dns-proxy with
 * the list), and the legacy two-container layout whose proxy container holds CAP_NET_ADMIN; and a
 * proxy container following its list's ConfigMap without a restart.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ConfigMapDir } from '../support/configmap.js';
import { DnsServer } from '../support/dns-server.js';
import { type RunningProxy, UNPRIVILEGED, startDnsProxy } from '../support/dns-proxy.js';
import { httpGet } from '../support/http.js';
import { describeIntegration } from '../support/integration.js';
import { waitForOutput } from '../support/output.js';
import { ADDRESSES, Topology, routerEnv } from '../support/topology.js';

const [D1, D2] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;
const NAMESERVER = '10.128.0.1';
const reached = (destination: string, port = 80) => `${ADDRESSES.source} ${destination}:${port}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeIntegration('DNS proxy in the kernel, and its reload', () => {
  let topology: Topology;
  let dns: DnsServer;
  let dir: string;
  let proxy: RunningProxy | undefined;
  let router: ResultPromise | undefined;
  let configMap: ConfigMapDir | undefined;

  beforeEach(async () => {
    topology = await Topology.create();
    await topology.startServers(topology.ns.lan, [`tcp:${D1}:80`, `tcp:${D2}:80`]);
    dns = await DnsServer.start(topology.ns.cluster, NAMESERVER, [{ name: 'app.example.com', addresses: [D1], ttl: 1 }]);
    dir = mkdtempSync(join(os.tmpdir(), 'ert-dns-kernel-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'resolv.conf'), `nameserver ${NAMESERVER}\noptions timeout:1 attempts:2\n`);
  });
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
    router?.kill('SIGKILL');
    router = undefined;
    configMap?.remove();
    configMap = undefined;
    await dns.stop();
    await topology.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const reply = async (port: number) => {
    const [r] = await topology.probe([`tcp:${POD}:${port}`], { timeoutMs: 2000 });
    return r!.ok ? r!.reply! : `error ${r!.error}`;
  };
  const listeners = async () => (await topology.exec(topology.ns.router, ['ss', '-Hltn'])).split('\n').map((l) => l.trim().split(/\s+/)[3]).filter(Boolean);
  async function until(port: number, expected: string, timeoutMs: number): Promise<void> {
    const started = performance.now();
    while ((await reply(port)) !== expected) {
      if (performance.now() - started > timeoutMs) throw new Error(`port ${port} never answered '${expected}'`);
      await sleep(100);
    }
  }

  it('in a one-container pod forwards the list in the kernel, follows its names, and serves readiness', async () => {
    router = topology.startRouter(
      routerEnv({
        EGRESS_ROUTER_MODE: 'dns-proxy',
        EGRESS_DNS_PROXY_DESTINATION: '80 app.example.com\n8080 203.0.113.26 80',
        EGRESS_ROUTER_RESOLV_CONF: join(dir, 'resolv.conf'),
        EGRESS_ROUTER_DNS_MIN_TTL: '1',
      }),
    );
    await waitForOutput(router, 'egress router ready', 'the router');
    expect(await reply(80)).toBe(reached(D1));
    expect(await reply(8080)).toBe(reached(D2));
    // Nothing of the pod listens on the proxied ports: the kernel forwards them.
    expect(await listeners()).toEqual([`${POD}:9552`]);
    expect((await httpGet(topology.ns.client, `http://${POD}:9552/readyz`)).status).toBe(200);
    await dns.update([{ name: 'app.example.com', addresses: [D2], ttl: 1 }]);
    await until(80, reached(D2), 5000);
  });

  it('runs the kernel path in a proxy container that holds CAP_NET_ADMIN, after our init container', async () => {
    const init = await topology.runRouter(routerEnv({ EGRESS_ROUTER_MODE: 'dns-proxy' }));
    expect(init.exitCode).toBe(0);
    proxy = await startDnsProxy(
      topology.ns.router,
      { EGRESS_DNS_PROXY_DESTINATION: '80 app.example.com', EGRESS_ROUTER_RESOLV_CONF: join(dir, 'resolv.conf'), EGRESS_ROUTER_DNS_MIN_TTL: '1' },
      { wrap: [] },
    );
    expect(proxy.logs().find((l) => l.path === 'kernel')?.msg).toMatch(/^dns proxy runs on the kernel path: CAP_NET_ADMIN/);
    expect(await reply(80)).toBe(reached(D1));
    expect(await listeners()).toEqual([`${POD}:9552`]);
    await dns.update([{ name: 'app.example.com', addresses: [D2], ttl: 1 }]);
    await until(80, reached(D2), 5000);
    // Stopping the proxy leaves the pod's network, and the redirects, to the pod.
    expect((await proxy.stop()).exitCode).toBe(0);
    proxy = undefined;
    expect(await reply(80)).toBe(reached(D2));
  });

  it('follows its list’s ConfigMap without a restart: a new port opens within 2 s, an invalid edit changes nothing', async () => {
    const init = await topology.runRouter(routerEnv({ EGRESS_ROUTER_MODE: 'dns-proxy' }));
    expect(init.exitCode).toBe(0);
    await topology.exec(topology.ns.router, ['sysctl', '-qw', 'net.ipv4.ip_unprivileged_port_start=0']);
    configMap = new ConfigMapDir({ list: '80 app.example.com\n' });
    proxy = await startDnsProxy(
      topology.ns.router,
      { EGRESS_DNS_PROXY_DESTINATION_FILE: configMap.path('list'), EGRESS_ROUTER_RESOLV_CONF: join(dir, 'resolv.conf') },
      { wrap: UNPRIVILEGED },
    );
    expect(await reply(80)).toBe(reached(D1));
    configMap.update({ list: '80 app.example.com\n81 203.0.113.26 80\n' });
    const swapped = performance.now();
    await until(81, reached(D2), 2000);
    expect(performance.now() - swapped).toBeLessThan(2000);
    configMap.update({ list: '80 app.example.com\n81 bad\n' });
    await proxy.waitForLog('new configuration refused', 3000);
    expect(await reply(81)).toBe(reached(D2));
  });
});
