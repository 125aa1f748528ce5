/**
 * Destinations by name in redirect mode, forwarded in the kernel and kept fresh: a real DNS
 * server (dnsmasq, as the cluster DNS service) whose answers and TTLs the tests change, real
 * servers on the LAN, the long-running router in between.
 */
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type DnsRecord, DnsServer } from '../support/dns-server.js';
import { httpGet } from '../support/http.js';
import { describeIntegration } from '../support/integration.js';
import { waitForOutput } from '../support/output.js';
import { ADDRESSES, ROOT, Topology, routerEnv } from '../support/topology.js';

const [D1, D2, D3] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;
const CLUSTER_DNS = '172.30.0.10';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeIntegration('destinations by name, kept fresh', () => {
  let topology: Topology;
  let dns: DnsServer;
  let dir: string;
  let router: ResultPromise | undefined;
  let output: () => string;

  beforeEach(async () => {
    topology = await Topology.create();
    await topology.exec(topology.ns.cluster, ['ip', 'addr', 'add', `${CLUSTER_DNS}/32`, 'dev', 'lo']);
    dir = mkdtempSync(join(tmpdir(), 'ert-names-'));
    writeFileSync(join(dir, 'resolv.conf'), `nameserver ${CLUSTER_DNS}\noptions timeout:1 attempts:1\n`);
    await topology.startServers(topology.ns.lan, [D1, D2, D3].flatMap((d) => [`tcp:${d}:80`, `echo:${d}:7000`]));
  });
  afterEach(async () => {
    router?.kill('SIGKILL');
    router = undefined;
    await dns?.stop();
    await topology.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(records: DnsRecord[], list: string, extra: Record<string, string> = {}): Promise<void> {
    dns = await DnsServer.start(topology.ns.cluster, CLUSTER_DNS, records);
    router = topology.startRouter(
      routerEnv({
        EGRESS_ROUTER_MODE: 'legacy',
        EGRESS_DESTINATION: list,
        EGRESS_ROUTER_RESOLV_CONF: join(dir, 'resolv.conf'),
        EGRESS_ROUTER_DNS_MIN_TTL: '1',
        ...extra,
      }),
    );
    output = await waitForOutput(router, 'egress router ready', 'the router');
  }
  /** The destination a new connection to the pod's port reached, or the error. */
  const reached = async (port: number, count = 1): Promise<string[]> =>
    (await topology.probe([`tcp:${POD}:${port}`], { timeoutMs: 1000, count })).map((r) => (r.ok ? r.reply!.split(' ')[1]! : r.error!));
  async function until(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
    const started = performance.now();
    while (!(await check())) {
      if (performance.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
      await sleep(100);
    }
    return performance.now() - started;
  }

  it('follows a name to its new address once the answer’s TTL runs out', async () => {
    await start([{ name: 'db.example.com', addresses: [D1], ttl: 2 }], '80 tcp db.example.com');
    expect(await reached(80)).toEqual([`${D1}:80`]);
    await dns.update([{ name: 'db.example.com', addresses: [D2], ttl: 2 }]);
    const changed = performance.now();
    const ms = await until(5000, 'connections follow the new answer', async () => (await reached(80))[0] === `${D2}:80`);
    console.log(`a DNS change was followed ${Math.round(ms)} ms after it (TTL 2 s)`);
    expect(performance.now() - changed).toBeLessThan(5000);
    expect(output()).toMatch(/db\.example\.com resolved to 203\.0\.113\.26/);
  });

  it('spreads new connections across every address of a name', async () => {
    await start([{ name: 'web.example.com', addresses: [D1, D2, D3], ttl: 60 }], '80 tcp web.example.com');
    const destinations = await reached(80, 60);
    expect(new Set(destinations)).toEqual(new Set([`${D1}:80`, `${D2}:80`, `${D3}:80`]));
  });

  it('takes an address that stops accepting out within 6 s, and puts it back when it recovers', async () => {
    await start([{ name: 'web.example.com', addresses: [D1, D2], ttl: 60 }], '80 tcp web.example.com');
    expect(new Set(await reached(80, 20)).size).toBe(2);
    // D2 dies: its address is gone from the LAN, so connections to it go unanswered.
    await topology.exec(topology.ns.lan, ['ip', 'addr', 'del', `${D2}/32`, 'dev', 'lo']);
    const died = performance.now();
    await until(8000, 'every new connection reaches D1', async () => (await reached(80, 10)).every((d) => d === `${D1}:80`));
    const recovered = performance.now() - died;
    const after = await reached(80, 100);
    expect(after.filter((d) => d === `${D1}:80`).length).toBeGreaterThanOrEqual(99);
    console.log(`a dead address was out after ${Math.round(recovered)} ms; then ${after.filter((d) => d === `${D1}:80`).length}/100 connections succeeded`);
    await topology.exec(topology.ns.lan, ['ip', 'addr', 'add', `${D2}/32`, 'dev', 'lo']);
    await until(10_000, 'D2 back in the rotation', async () => (await reached(80, 10)).includes(`${D2}:80`));
  });

  it('starts with a name that does not resolve: its port refuses, the others work, readiness says why, and it recovers', async () => {
    await start([{ name: 'db.example.com', addresses: [D1], ttl: 60 }], `80 tcp missing.example.com\n81 tcp db.example.com 80\n${D3}`);
    expect(await reached(80)).toEqual(['ECONNREFUSED']);
    expect(await reached(81)).toEqual([`${D1}:80`]);
    // The fallback takes other ports, but never the refused one.
    expect(await reached(9999)).toEqual(['ECONNREFUSED']);
    const ready = await httpGet(topology.ns.client, `http://${POD}:9552/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('missing.example.com');
    expect(output()).toMatch(/missing\.example\.com/);
    await dns.update([
      { name: 'db.example.com', addresses: [D1], ttl: 60 },
      { name: 'missing.example.com', addresses: [D2], ttl: 60 },
    ]);
    await until(8000, 'the name resolves and its port works', async () => (await reached(80))[0] === `${D2}:80`);
    await until(3000, 'ready', async () => (await httpGet(topology.ns.client, `http://${POD}:9552/readyz`)).status === 200);
  });

  it('keeps an established connection on its destination through any number of updates', async () => {
    await start([{ name: 'echo.example.com', addresses: [D1], ttl: 1 }], '7000 tcp echo.example.com\n80 tcp echo.example.com');
    const long = execa('ip', ['netns', 'exec', topology.ns.client, process.execPath, `${ROOT}/test/fixtures/long-connection.mjs`, '--every', '50', '--for', '30000', `${POD}:7000`], { reject: false });
    await waitForOutput(long, 'connected', 'the long connection');
    for (const [i, next] of [D2, D3, D1, D2].entries()) {
      await dns.update([{ name: 'echo.example.com', addresses: [next], ttl: 1 }]);
      await until(5000, `update ${i + 1} followed`, async () => (await reached(80))[0] === `${next}:80`);
    }
    long.kill('SIGTERM');
    const summary = JSON.parse((await long).stdout.split('\n').at(-1)!) as { sent: number; echoed: number; error: string | null };
    expect(summary.error).toBeNull();
    expect(summary.sent - summary.echoed).toBeLessThanOrEqual(1);
    expect(summary.echoed).toBeGreaterThan(20);
  });

  it('resolves names once in init mode', async () => {
    dns = await DnsServer.start(topology.ns.cluster, CLUSTER_DNS, [{ name: 'db.example.com', addresses: [D2], ttl: 60 }]);
    const run = await topology.runRouter(routerEnv({ EGRESS_DESTINATION: '80 tcp db.example.com\nmissing.example.com', EGRESS_ROUTER_RESOLV_CONF: join(dir, 'resolv.conf') }));
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/names resolved once/);
    expect(await reached(80)).toEqual([`${D2}:80`]);
    expect(await reached(81)).toEqual(['ECONNREFUSED']);
  });
});
