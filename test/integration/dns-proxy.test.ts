/**
 * The DNS proxy container's user-space relay in real namespaces: the legacy proxy container's
 * environment (no EGRESS_SOURCE, no capability, not root), a router pod set up by our own init
 * run in `dns-proxy` mode, and dnsmasq on the cluster network (10.128.0.1, on-link through eth0)
 * whose answers and TTLs each test changes.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DnsServer } from '../support/dns-server.js';
import { type RunningProxy, startDnsProxy } from '../support/dns-proxy.js';
import { describeIntegration } from '../support/integration.js';
import { ADDRESSES, ROOT, Topology, routerEnv } from '../support/topology.js';

const [D1, D2, D3] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;
const NAMESERVER = '10.128.0.1';
/** What the echo server answers when reached through the proxy: the proxy's egress address, and which destination. */
const reached = (destination: string, port = 80) => `${ADDRESSES.source} ${destination}:${port}`;

describeIntegration('DNS proxy container (user-space relay)', () => {
  let topology: Topology;
  let dns: DnsServer;
  let dir: string;
  let proxy: RunningProxy | undefined;

  beforeAll(async () => {
    topology = await Topology.create();
    // As the init container of a legacy DNS proxy pod would: the network only.
    const init = await topology.runRouter(routerEnv({ EGRESS_ROUTER_MODE: 'dns-proxy' }));
    expect(init.stderr).toBe('');
    expect(init.exitCode).toBe(0);
    // Ports below 1024 for a non-root container: a namespaced sysctl a pod spec may set.
    await topology.exec(topology.ns.router, ['sysctl', '-qw', 'net.ipv4.ip_unprivileged_port_start=0']);
    await topology.startServers(topology.ns.lan, [...ADDRESSES.destinations.map((d) => `tcp:${d}:80`), `echo:${D1}:7`, `echo:${D2}:7`]);
    dns = await DnsServer.start(topology.ns.cluster, NAMESERVER, []);
    dir = mkdtempSync(join(os.tmpdir(), 'egress-router-dns-proxy-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'resolv.conf'), `nameserver ${NAMESERVER}\noptions timeout:1 attempts:2\n`);
  });

  afterAll(async () => {
    await proxy?.stop();
    await dns?.stop();
    await topology?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the proxy for `list`, re-resolving at TTL expiry with a 1 s floor. */
  async function start(list: string): Promise<RunningProxy> {
    proxy = await startDnsProxy(topology.ns.router, {
      EGRESS_DNS_PROXY_DESTINATION: list,
      EGRESS_ROUTER_RESOLV_CONF: join(dir, 'resolv.conf'),
      EGRESS_ROUTER_DNS_MIN_TTL: '1',
    });
    return proxy;
  }

  async function stop(): Promise<void> {
    const result = await proxy!.stop();
    proxy = undefined;
    expect(result.exitCode).toBe(0);
  }

  /** The replies (or errors) of `count` connections, one after the other, from the client pod. */
  async function replies(port: number, count = 1): Promise<string[]> {
    const results = await topology.probe([`tcp:${POD}:${port}`, ...Array<string>(count - 1).fill(`tcp:${POD}:${port}`)], { timeoutMs: 3000 });
    return results.map((r) => (r.ok ? r.reply! : `error ${r.error}`));
  }

  /** Polls until a connection to `port` gets `expected`; returns how long that took. */
  async function until(port: number, expected: string, timeoutMs: number): Promise<number> {
    const started = performance.now();
    let last = '';
    while (performance.now() - started < timeoutMs) {
      last = (await replies(port))[0]!;
      if (last === expected) return performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`port ${port}: still '${last}' after ${timeoutMs} ms, expected '${expected}'`);
  }

  it('says it runs as a user-space relay and why, unprivileged, listening on the cluster interface only', async () => {
    await dns.update([{ name: 'app.example.com', addresses: [D1], ttl: 60 }]);
    await start('# legacy list\n80 app.example.com\n8080 203.0.113.26 80');
    try {
      const relay = proxy!.logs().find((l) => l.path === 'relay');
      expect(relay?.msg).toBe('dns proxy runs as a user-space relay: no CAP_NET_ADMIN (a proxy container without capabilities)');
      expect(proxy!.logs().map((l) => l.msg)).toContain(`dns proxy relay listening on ${POD} (eth0), ports 80, 8080`);
      expect(await replies(80)).toEqual([reached(D1)]);
      expect(await replies(8080)).toEqual([reached(D2)]);
      const listening = await topology.exec(topology.ns.router, ['ss', '-Hltn']);
      // The relay's ports, and the status endpoint's, on the pod's cluster address only.
      expect(listening.split('\n').map((l) => l.trim().split(/\s+/)[3]).sort()).toEqual([`${POD}:80`, `${POD}:8080`, `${POD}:9552`]);
      // From the node's LAN, the egress address has nothing listening.
      const lan = await topology.probe([`tcp:${ADDRESSES.source}:80`, `tcp:${ADDRESSES.source}:8080`], { from: topology.ns.lan });
      expect(lan.map((r) => r.error)).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
    } finally {
      await stop();
    }
  });

  it('follows a name to its new address once its TTL runs out', async () => {
    await dns.update([{ name: 'moving.example.com', addresses: [D1], ttl: 1 }]);
    await start('9001 moving.example.com 80');
    try {
      expect(await replies(9001)).toEqual([reached(D1)]);
      await dns.update([{ name: 'moving.example.com', addresses: [D2], ttl: 1 }]);
      // TTL 1 s, floor 1 s: the next lookup is at most a second away.
      expect(await until(9001, reached(D2), 8000)).toBeLessThan(8000);
      await proxy!.waitForLog(`port 9001 relays to moving.example.com: ${D2}:80`, 1000);
    } finally {
      await stop();
    }
  });

  it('spreads new connections over every address of a name', async () => {
    await dns.update([{ name: 'many.example.com', addresses: [D1, D2, D3], ttl: 60 }]);
    await start('9002 many.example.com 80');
    try {
      const seen = await replies(9002, 12);
      const counts = Object.fromEntries(ADDRESSES.destinations.map((d) => [d, seen.filter((r) => r === reached(d)).length]));
      expect(counts).toEqual({ [D1]: 4, [D2]: 4, [D3]: 4 });
    } finally {
      await stop();
    }
  });

  it('takes a dead server out by health checks, keeps new connections working meanwhile, and brings it back', async () => {
    await dns.update([{ name: 'pair.example.com', addresses: [D1, D2], ttl: 60 }]);
    await start('9003 pair.example.com 80');
    try {
      expect(new Set(await replies(9003, 4))).toEqual(new Set([reached(D1), reached(D2)]));
      // D2 disappears from the LAN without a word: its packets are dropped, connections hang.
      await topology.exec(topology.ns.lan, ['ip', 'addr', 'del', `${D2}/32`, 'dev', 'lo']);
      const died = performance.now();
      // Until the checks take it out, connections that pick D2 move on to D1 after 0.5 s.
      expect(await replies(9003, 4)).toEqual(Array(4).fill(reached(D1)));
      await proxy!.waitForLog(`${D2}:80 is down after 3 failed health checks`, 10_000);
      const outAfter = performance.now() - died;
      expect(outAfter).toBeLessThan(8000);
      expect(await replies(9003, 4)).toEqual(Array(4).fill(reached(D1)));
      await topology.exec(topology.ns.lan, ['ip', 'addr', 'add', `${D2}/32`, 'dev', 'lo']);
      await proxy!.waitForLog(`${D2}:80 is up again after 2 good health checks`, 10_000);

      expect(new Set(await replies(9003, 4))).toEqual(new Set([reached(D1), reached(D2)]));
    } finally {
      // Whatever happened above, the LAN gets its address back for the next test.
      await execa('ip', ['-n', topology.ns.lan, 'addr', 'replace', `${D2}/32`, 'dev', 'lo'], { reject: false });
      await stop();
    }
  });

  it('starts with a name that does not resolve: its port refuses, the others work, the log says so, and it follows once the name appears', async () => {
    await dns.update([]);
    await start('9004 later.example.com 80\n9005 203.0.113.25 80');
    try {
      expect(proxy!.logs().map((l) => l.msg)).toContain('port 9004 refuses connections until later.example.com resolves: no such name');
      expect(await replies(9004)).toEqual(['error ECONNRESET']);
      expect(await replies(9005)).toEqual([reached(D1)]);
      await dns.update([{ name: 'later.example.com', addresses: [D3], ttl: 60 }]);
      // Re-looked up at the floor (1 s here).
      expect(await until(9004, reached(D3), 8000)).toBeLessThan(8000);
    } finally {
      await stop();
    }
  });

  it('keeps an established connection through any number of DNS changes', async () => {
    await dns.update([{ name: 'long.example.com', addresses: [D1], ttl: 1 }]);
    await start('9006 long.example.com 7');
    const connection = execa('ip', ['netns', 'exec', topology.ns.client, process.execPath, `${ROOT}/test/fixtures/long-connection.mjs`, '--every', '50', '--for', '60000', `${POD}:9006`], { reject: false });
    try {
      await new Promise<void>((resolve, reject) => {
        connection.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('connected') && resolve());
        void connection.then(() => reject(new Error('long connection ended early')));
      });
      const changes = [[D2], [], [D1, D2], [D2]];
      for (const addresses of changes) {
        await dns.update([{ name: 'long.example.com', addresses, ttl: 1 }]);
        await new Promise((resolve) => setTimeout(resolve, 2500));
      }
      await proxy!.waitForLog(`port 9006 relays to long.example.com: ${D2}:7`, 1000);
      await proxy!.waitForLog('port 9006 refuses connections until long.example.com resolves', 1000);
      connection.kill('SIGTERM');
      const result = JSON.parse((await connection).stdout.split('\n').pop()!) as { sent: number; echoed: number; error: string | null };
      expect(result.error).toBeNull();
      expect(result.sent).toBeGreaterThan(100);
      expect(result.echoed).toBeGreaterThanOrEqual(result.sent - 1);
    } finally {
      connection.kill('SIGKILL');
      await stop();
    }
  });
});
