/**
 * The long-running router (legacy mode): reload without a restart, the status endpoint, and the
 * metrics, in real namespaces with real traffic, on both backends.
 */
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ConfigMapDir } from '../support/configmap.js';
import { httpGet, metricValue } from '../support/http.js';
import { describeIntegration } from '../support/integration.js';
import { waitForOutput } from '../support/output.js';
import { ADDRESSES, ROOT, Topology, routerEnv } from '../support/topology.js';

const [D1, D2] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;
const STATUS = `http://${POD}:9552`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 100 ms until it returns true; returns the time it took, or throws. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(100);
  }
  return performance.now() - started;
}

for (const backend of ['nftables', 'iptables'] as const) {
  describeIntegration(`the long-running router with the ${backend} backend`, () => {
    let topology: Topology;
    let configMap: ConfigMapDir;
    let router: ResultPromise;
    let output: () => string;

    const V1 = `80 tcp ${D1}\n7000 tcp ${D2}\n`;
    const start = async (list: string, extra: Record<string, string> = {}) => {
      configMap = new ConfigMapDir({ destinations: list });
      router = topology.startRouter(
        routerEnv({ EGRESS_ROUTER_MODE: 'legacy', EGRESS_DESTINATION_FILE: configMap.path('destinations'), EGRESS_ROUTER_FIREWALL: backend, ...extra }),
      );
      output = await waitForOutput(router, 'egress router ready', 'legacy mode');
    };
    const reply = async (port: number) => (await topology.probe([`tcp:${POD}:${port}`], { timeoutMs: 1000 }))[0]!;
    const metrics = async () => (await httpGet(topology.ns.client, `${STATUS}/metrics`)).body;

    beforeEach(async () => {
      topology = await Topology.create();
      await topology.startServers(topology.ns.lan, [`tcp:${D1}:80`, `echo:${D2}:7000`]);
    });
    afterEach(async () => {
      router?.kill('SIGKILL');
      await topology.destroy();
      configMap?.remove();
    });

    it('follows a ConfigMap update by symlink swap within 2 s, while a connection through an unchanged rule keeps echoing', async () => {
      await start(V1);
      const long = execa('ip', ['netns', 'exec', topology.ns.client, process.execPath, `${ROOT}/test/fixtures/long-connection.mjs`, '--every', '50', '--for', '30000', `${POD}:7000`], { reject: false });
      await waitForOutput(long, 'connected', 'the long connection');
      expect((await reply(80)).reply).toBe(`${ADDRESSES.source} ${D1}:80`);

      configMap.update({ destinations: `7000 tcp ${D2}\n81 tcp ${D1} 80\n` });
      const ms = await within(2000, 'port 81 served', async () => (await reply(81)).reply === `${ADDRESSES.source} ${D1}:80`);
      expect(await reply(80)).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
      await sleep(500);
      long.kill('SIGTERM');
      const summary = JSON.parse((await long).stdout.split('\n').at(-1)!) as { sent: number; echoed: number; error: string | null };
      expect(summary.error).toBeNull();
      expect(summary.echoed).toBeGreaterThan(10);
      expect(summary.sent - summary.echoed).toBeLessThanOrEqual(1);
      expect(output()).toMatch(/"trigger":"file .*destinations changed"/);
      console.log(`${backend}: the added rule served ${Math.round(ms)} ms after the swap; ${summary.echoed} echoes on the long connection`);
    });

    it('refuses an invalid edit: nothing changes, the error names the file and the line, and the metrics count it', async () => {
      await start(V1);
      const before = await topology.routerState();
      configMap.update({ destinations: `80 tcp ${D1}\n7000 tcp 999.1.1.1\n` });
      await within(3000, 'the refusal logged', async () => /line 2: invalid address '999\.1\.1\.1'/.test(output()));
      expect(output()).toContain('new configuration refused; the running configuration stays');
      expect(output()).toMatch(new RegExp(`EGRESS_DESTINATION_FILE ${configMap.path('destinations').replace(/[.]/g, '\\.')} line 2`));
      expect(await topology.routerState()).toBe(before);
      expect((await reply(80)).reply).toBe(`${ADDRESSES.source} ${D1}:80`);
      expect(metricValue(await metrics(), 'egress_router_reloads_total{result="invalid"}')).toBe(1);
      expect((await httpGet(topology.ns.client, `${STATUS}/readyz`)).status).toBe(200);

      configMap.update({ destinations: `81 tcp ${D1} 80\n` });
      await within(2000, 'the corrected list applied', async () => (await reply(81)).ok);
      expect(metricValue(await metrics(), 'egress_router_reloads_total{result="applied"}')).toBe(1);
    });

    it('re-plans the network when the env file moves the source: the old address goes, the new one is announced', async () => {
      const env = new ConfigMapDir({ env: `EGRESS_SOURCE=${ADDRESSES.sourceCidr}\n` });
      try {
        configMap = new ConfigMapDir({ destinations: V1 });
        router = topology.startRouter({
          EGRESS_GATEWAY: ADDRESSES.gateway,
          EGRESS_ROUTER_MODE: 'legacy',
          EGRESS_ROUTER_ENV_FILE: env.path('env'),
          EGRESS_DESTINATION_FILE: configMap.path('destinations'),
          EGRESS_ROUTER_FIREWALL: backend,
        });
        output = await waitForOutput(router, 'egress router ready', 'legacy mode');
        expect((await reply(80)).reply).toBe(`${ADDRESSES.source} ${D1}:80`);
        env.update({ env: 'EGRESS_SOURCE=192.168.12.98/24\n' });
        await within(3000, 'traffic leaves from the new source', async () => (await reply(80)).reply === `192.168.12.98 ${D1}:80`);
        const addresses = await topology.exec(topology.ns.router, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'macvlan0']);
        expect(addresses).toContain('192.168.12.98/24');
        expect(addresses).not.toContain(`${ADDRESSES.source}/`);
        await within(3000, 'the new source announced', async () => /"step":"announce".*192\.168\.12\.98/.test(output()));
        // The old source's repeat announcement, due 2 s after the start, is never sent once it moved.
        const moved = output().indexOf('reload applied');
        await new Promise((resolve) => setTimeout(resolve, 2500));
        expect(output().slice(moved)).not.toContain(`-I macvlan0 ${ADDRESSES.source}`);
      } finally {
        env.remove();
      }
    });

    it('reloads on SIGHUP and keeps running', async () => {
      await start(V1);
      router.kill('SIGHUP');
      await within(2000, 'the SIGHUP reload', async () => /"trigger":"SIGHUP"/.test(output()));
      await within(2000, 'counted as unchanged', async () => metricValue(await metrics(), 'egress_router_reloads_total{result="unchanged"}') === 1);
      expect(router.exitCode).toBeNull();
      expect((await reply(80)).ok).toBe(true);
    });

    it('counts the connections each rule redirected, and the forwards it dropped', async () => {
      await start(V1);
      await topology.probe([`tcp:${POD}:80`], { count: 3 });
      // A LAN host that routes the cluster network through the egress address: dropped and counted.
      await topology.exec(topology.ns.lan, ['ip', 'route', 'add', '10.129.0.0/24', 'via', ADDRESSES.source]);
      await topology.probe([`udp:${ADDRESSES.client}:7000`], { from: topology.ns.lan, timeoutMs: 300, count: 2 });
      const exposition = await metrics();
      expect(metricValue(exposition, 'egress_router_rule_connections_total{protocol="tcp",port="80"}')).toBe(3);
      expect(metricValue(exposition, 'egress_router_rule_connections_total{protocol="tcp",port="7000"}')).toBe(0);
      expect(metricValue(exposition, 'egress_router_redirected_connections_total')).toBe(3);
      expect(metricValue(exposition, 'egress_router_forward_dropped_packets_total')).toBe(2);
      if (backend === 'nftables') {
        // SYN, ACK, ACK of the reply, FIN, ACK at least, each way.
        expect(metricValue(exposition, 'egress_router_rule_packets_total{protocol="tcp",port="80",direction="out"}')).toBeGreaterThanOrEqual(9);
        expect(metricValue(exposition, 'egress_router_rule_bytes_total{protocol="tcp",port="80",direction="in"}')).toBeGreaterThan(3 * 40);
      }
    });

    it('serves /livez, /readyz and /metrics on the cluster interface only, never from the LAN side', async () => {
      await start(V1);
      expect(await httpGet(topology.ns.client, `${STATUS}/livez`)).toMatchObject({ status: 200, body: 'ok' });
      expect(await httpGet(topology.ns.client, `${STATUS}/readyz`)).toMatchObject({ status: 200, body: 'ready' });
      const exposition = await metrics();
      expect(metricValue(exposition, 'egress_router_ready')).toBe(1);
      expect(exposition).toMatch(/^egress_router_build_info\{version="[^"]+",node_version="v\d+/m);
      expect(exposition).toMatch(/^egress_router_config_info\{hash="[0-9a-f]{16}"\} 1$/m);
      expect(metricValue(exposition, 'egress_router_last_reload_success_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);

      // From the LAN: the source address has no such port, and routing the pod's address through
      // the egress address (a host that knows the cluster network) reaches nothing either.
      expect((await httpGet(topology.ns.lan, `http://${ADDRESSES.source}:9552/readyz`, 1)).status).toBe(0);
      await topology.exec(topology.ns.lan, ['ip', 'route', 'add', `${POD}/32`, 'via', ADDRESSES.source]);
      expect((await httpGet(topology.ns.lan, `${STATUS}/readyz`, 1)).status).toBe(0);
    });
  });
}
