/**
 * Two or more router replicas on one LAN segment, for the failover tests and measurements.
 *
 *   client (10.129.0.10) -- cluster: the Service 172.30.0.10, a DNAT to the ready replica(s),
 *                            |        kept by test/fixtures/endpoints-controller.mjs
 *                            +-- pod0: eth0 10.128.0.5, macvlan0 on node0's nic0 --+
 *                            +-- pod1: eth0 10.128.0.6, macvlan0 on node1's nic0 --+-- lan: a bridge,
 *                                                                                      gateway 192.168.12.1,
 *                                                                                      destinations 203.0.113.x
 *
 * The Service model: a replica is an endpoint while its /readyz answers 200 (polled every 0.5 s,
 * like a readiness probe), so clients reach the holder alone, and only once it holds the address.
 * Each pod runs the built router (`dist/egress-router.js`) in legacy mode with failover on, as
 * examples/deployment-failover.yaml does: it configures the pod, starts keepalived and serves
 * /readyz on the pod's cluster address.
 * `create(n, 6)` builds the same with IPv6 (fd00:128::5, 2001:db8:12::99/64, ...).
 * Nothing here touches the machine's own network; every namespace is removed by `destroy`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { ADDRESSES, ADDRESSES6, ENTRY, NAMESPACE_PREFIX, ROOT } from './topology.js';
import { waitForOutput } from './output.js';
import { type AddressEvent, type Holding, holdingIntervals } from './holders.js';
import { type HttpAnswer, httpGet } from './http.js';
import { type ClientResult, Replica } from './replica.js';

export { type ClientResult, Replica, monotonicNs, msBetween, running } from './replica.js';

const FIXTURES = `${ROOT}/test/fixtures`;
export const STATUS_PORT = 9552;
export const VRID = '42';
/** The one redirect of these tests: Service port 80 -> the first destination's port 80. */
const PORT = 80;
/** The router's last start-up log line: the status endpoint serves /readyz. */
const STATUS_SERVING = '"msg":"status endpoint';

/** The addressing plan of one family; IPv6 mirrors IPv4's (ADDRESSES6 of topology.ts). */
export interface FailoverAddresses {
  family: 4 | 6;
  client: string;
  source: string;
  sourceCidr: string;
  gateway: string;
  destination: string;
  /** The Service's address, in the cluster namespace. */
  service: string;
  pod: (index: number) => string;
  /** What the destination answers a connection through the router: the source it saw, and itself. */
  reply: string;
}

const V4: FailoverAddresses = {
  family: 4,
  client: ADDRESSES.client,
  source: ADDRESSES.source,
  sourceCidr: ADDRESSES.sourceCidr,
  gateway: ADDRESSES.gateway,
  destination: ADDRESSES.destinations[0],
  service: '172.30.0.10',
  pod: (index) => `10.128.0.${5 + index}`,
  reply: `${ADDRESSES.source} ${ADDRESSES.destinations[0]}:${PORT}`,
};
const V6: FailoverAddresses = {
  family: 6,
  client: ADDRESSES6.client,
  source: ADDRESSES6.source,
  sourceCidr: ADDRESSES6.sourceCidr,
  gateway: ADDRESSES6.gateway,
  destination: ADDRESSES6.destinations[0],
  service: 'fd00:30::10',
  pod: (index) => `fd00:128::${5 + index}`,
  reply: `${ADDRESSES6.source} ${ADDRESSES6.destinations[0]}:${PORT}`,
};

async function sh(argv: string[], input?: string): Promise<string> {
  const result = await execa(argv[0]!, argv.slice(1), { input, reject: false });
  if (result.failed) throw new Error(`${argv.join(' ')} failed: ${result.stderr || result.message}`);
  return result.stdout;
}

export class FailoverTopology {
  readonly ns: { client: string; cluster: string; lan: string; nodes: string[]; pods: string[] };
  private readonly processes: ResultPromise[] = [];
  private readonly scratch = mkdtempSync(join(tmpdir(), 'egress-router-failover-'));

  private constructor(readonly id: string, readonly replicas: number, readonly addresses: FailoverAddresses) {
    const name = (role: string) => `${NAMESPACE_PREFIX}${id}-${role}`;
    const each = (role: string) => Array.from({ length: replicas }, (_, i) => name(`${role}${i}`));
    this.ns = { client: name('client'), cluster: name('cluster'), lan: name('lan'), nodes: each('node'), pods: each('pod') };
  }

  static async create(replicas = 2, family: 4 | 6 = 4): Promise<FailoverTopology> {
    const runId = process.env.EGRESS_ROUTER_TEST_RUN ?? '';
    const topology = new FailoverTopology(`${runId}${randomBytes(3).toString('hex')}`, replicas, family === 4 ? V4 : V6);
    try {
      await topology.build();
      return topology;
    } catch (error) {
      await topology.destroy();
      throw error;
    }
  }

  private async batch(ns: string, lines: string[]): Promise<void> {
    await sh(['ip', '-n', ns, '-batch', '-'], `${lines.join('\n')}\n`);
  }

  exec(ns: string, argv: string[], input?: string): Promise<string> {
    return sh(['ip', 'netns', 'exec', ns, ...argv], input);
  }

  private async build(): Promise<void> {
    const { client, cluster, lan, nodes, pods } = this.ns;
    const a = this.addresses;
    const v6 = a.family === 6;
    const len = (v4: number) => (v6 ? 64 : v4);
    const [clientNet, podNet] = v6 ? ['fd00:129::', 'fd00:128::'] : ['10.129.0.', '10.128.0.'];
    for (const ns of [client, cluster, lan, ...nodes, ...pods]) {
      await sh(['ip', 'netns', 'add', ns]);
      // No duplicate address detection: addresses (the link-local ones keepalived needs) usable at once.
      if (v6) await this.exec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    }
    const nodad = v6 ? ' nodad' : '';
    await sh(['ip', 'link', 'add', 'c0', 'netns', client, 'type', 'veth', 'peer', 'name', 'kc', 'netns', cluster]);
    await this.batch(client, ['link set lo up', `addr add ${a.client}/${len(24)} dev c0${nodad}`, 'link set c0 up', `route add default via ${clientNet}1`]);
    await this.batch(cluster, ['link set lo up', `addr add ${clientNet}1/${len(24)} dev kc${nodad}`, 'link set kc up', 'link add pods type bridge', `addr add ${podNet}1/${len(24)} dev pods${nodad}`, 'link set pods up']);
    await this.exec(cluster, ['sysctl', '-qw', v6 ? 'net.ipv6.conf.all.forwarding=1' : 'net.ipv4.ip_forward=1']);
    // The LAN learns addresses from gratuitous ARP (unsolicited NA) too, so the holder's
    // announcement is visible there before any traffic.
    await this.batch(lan, ['link set lo up', 'link add br0 type bridge', `addr add ${a.gateway}/${len(24)} dev br0${nodad}`, 'link set br0 up', `addr add ${a.destination}/${v6 ? 128 : 32} dev lo`]);
    // (An IPv6 node takes unsolicited advertisements of new neighbours only as a router.)
    if (v6) await this.exec(lan, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1', 'net.ipv6.conf.br0.accept_untracked_na=1']);
    else await this.exec(lan, ['sysctl', '-qw', 'net.ipv4.conf.br0.arp_accept=1']);
    for (let i = 0; i < this.replicas; i++) {
      await sh(['ip', 'link', 'add', 'eth0', 'netns', pods[i]!, 'type', 'veth', 'peer', 'name', `kp${i}`, 'netns', cluster]);
      await this.batch(cluster, [`link set kp${i} master pods`, `link set kp${i} up`]);
      await sh(['ip', 'link', 'add', 'nic0', 'netns', nodes[i]!, 'type', 'veth', 'peer', 'name', `lan${i}`, 'netns', lan]);
      await this.batch(lan, [`link set lan${i} master br0`, `link set lan${i} up`]);
      await this.batch(nodes[i]!, ['link set lo up', 'link set nic0 up', 'link add macvlan0 link nic0 type macvlan mode bridge', `link set macvlan0 netns ${pods[i]}`]);
      if (v6) await this.exec(pods[i]!, ['sysctl', '-qw', 'net.ipv6.conf.macvlan0.accept_dad=0']);
      await this.batch(pods[i]!, ['link set lo up', `addr add ${a.pod(i)}/${len(24)} dev eth0${nodad}`, 'link set eth0 up', `route add default via ${podNet}1 dev eth0`]);
    }
    const server = execa('ip', ['netns', 'exec', lan, process.execPath, `${FIXTURES}/echo-server.mjs`, `tcp:${a.destination}:${PORT}`], { reject: false });
    this.processes.push(server);
    await waitForOutput(server, 'ready', 'echo server');
  }

  /** The environment of replica `index`'s router: legacy mode, one redirect, failover on. */
  routerEnv(index: number, extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      EGRESS_SOURCE: this.addresses.sourceCidr,
      EGRESS_GATEWAY: this.addresses.gateway,
      EGRESS_DESTINATION: `${PORT} tcp ${this.addresses.destination}`,
      EGRESS_ROUTER_MODE: 'legacy',
      EGRESS_ROUTER_STATUS_PORT: String(STATUS_PORT),
      EGRESS_ROUTER_VRRP_ID: VRID,
      EGRESS_ROUTER_VRRP_DIR: this.workDir(index),
      ...extra,
    };
  }

  /** Replica `index`'s EGRESS_ROUTER_VRRP_DIR: kept across its restarts, as an emptyDir is. */
  workDir(index: number): string {
    const dir = join(this.scratch, `pod${index}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /**
   * Starts replica `index`'s router (`node dist/egress-router.js`, legacy mode, failover on);
   * resolves once its status endpoint serves, which comes after the first reconcile and
   * keepalived's first state. `wrap(workDir)` is a command prefix that execs the rest (setpriv,
   * a read-only root, ...); `node` are options for Node itself (a test's `--import`).
   */
  async startReplica(index: number, options: { env?: Record<string, string>; wrap?: (workDir: string) => string[]; node?: string[] } = {}): Promise<Replica> {
    const workDir = this.workDir(index);
    const child = execa('ip', ['netns', 'exec', this.ns.pods[index]!, ...(options.wrap?.(workDir) ?? []), process.execPath, ...(options.node ?? []), ENTRY], {
      env: this.routerEnv(index, options.env),
      extendEnv: false,
      reject: false,
    });
    this.processes.push(child);
    const printed = await waitForOutput(child, STATUS_SERVING, `router in pod ${index}`);
    return new Replica(index, child, workDir, printed);
  }

  /** The Service's endpoints controller; `endpoints()` are the ready replicas' addresses. */
  async startService(): Promise<{ endpoints: () => string[]; waitFor: (addresses: string[], timeoutMs?: number) => Promise<bigint> }> {
    const child = execa('ip', ['netns', 'exec', this.ns.cluster, process.execPath, `${FIXTURES}/endpoints-controller.mjs`, this.addresses.service, String(STATUS_PORT), ...this.ns.pods.map((_, i) => this.addresses.pod(i))], { reject: false });
    this.processes.push(child);
    const printed = await waitForOutput(child, 'endpoints ', 'endpoints controller');
    const changes = () => printed().split('\n').filter((l) => l.startsWith('endpoints ')).map((l) => {
      const [, at, list] = l.split(' ');
      return { at: BigInt(at!), endpoints: list ? list.split(',') : [] };
    });
    return {
      endpoints: () => changes().at(-1)?.endpoints ?? [],
      waitFor: async (addresses, timeoutMs = 10_000) => {
        const want = [...addresses].sort().join(',');
        const deadline = performance.now() + timeoutMs;
        for (;;) {
          const last = changes().at(-1);
          if (last && [...last.endpoints].sort().join(',') === want) return last.at;
          if (performance.now() > deadline) throw new Error(`Service endpoints never became [${want}]; last [${last?.endpoints.join(',')}]`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
    };
  }

  /**
   * A client that, once told to go, connects to the Service every 100 ms until ten connections in
   * a row succeed; `at` is when the first of them did (test/fixtures/connect-until.mjs).
   */
  async client(deadlineMs = 10_000): Promise<{ go: () => void; result: Promise<ClientResult> }> {
    const child = execa('ip', ['netns', 'exec', this.ns.client, process.execPath, `${FIXTURES}/connect-until.mjs`, this.addresses.service, String(PORT), String(deadlineMs)], { reject: false, stdin: 'pipe' });
    this.processes.push(child);
    const printed = await waitForOutput(child, 'ready', 'client');
    return {
      go: () => child.stdin!.write('go\n'),
      result: child.then(() => JSON.parse(printed().split('\n').find((l) => l.startsWith('{')) ?? '{"ok":false,"attempts":0}')),
    };
  }

  /** Watches the source address come and go on every replica's macvlan0 (ip monitor, exact times). */
  async watchAddress(): Promise<{ stop: () => Promise<Holding[][]> }> {
    const initial = await this.holders();
    const startedMs = Date.now();
    const events: AddressEvent[] = [];
    const monitors = this.ns.pods.map((ns, pod) => {
      const child = execa('ip', ['-ts', '-n', ns, 'monitor', 'address'], { reject: false, buffer: false });
      child.stdout!.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) {
          const match = /^\[(\S+)\] (Deleted )?\d+: macvlan0\s+inet6? (\S+)/.exec(line);
          if (match && match[3] === this.addresses.sourceCidr) events.push({ pod, held: !match[2], atMs: Date.parse(match[1]!.slice(0, 23)) + Number(`0.${match[1]!.slice(23)}`) });
        }
      });
      return child;
    });
    this.processes.push(...monitors);
    await new Promise((resolve) => setTimeout(resolve, 200)); // ip monitor subscribes as it starts
    return {
      stop: async () => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        for (const monitor of monitors) monitor.kill();
        await Promise.allSettled(monitors);
        return holdingIntervals(this.replicas, initial, startedMs, events, Date.now());
      },
    };
  }

  /** The replicas whose macvlan0 holds the source address now. */
  async holders(): Promise<number[]> {
    const shown = await Promise.all(this.ns.pods.map((ns) => this.exec(ns, ['ip', '-br', 'addr', 'show', 'dev', 'macvlan0'])));
    return shown.flatMap((line, i) => (line.split(/\s+/).includes(this.addresses.sourceCidr) ? [i] : []));
  }

  async mac(index: number): Promise<string> {
    const [link] = JSON.parse(await this.exec(this.ns.pods[index]!, ['ip', '-j', 'link', 'show', 'dev', 'macvlan0'])) as { address: string }[];
    return link!.address;
  }

  /** A URL of replica `index`'s status endpoint, on its cluster address. */
  private statusUrl(index: number, path: string): string {
    const host = this.addresses.family === 6 ? `[${this.addresses.pod(index)}]` : this.addresses.pod(index);
    return `http://${host}:${STATUS_PORT}${path}`;
  }

  /** Replica `index`'s /readyz, asked from the cluster as the kubelet asks it. */
  readyz(index: number): Promise<HttpAnswer> {
    return httpGet(this.ns.cluster, this.statusUrl(index, '/readyz'));
  }

  /** Replica `index`'s /metrics. */
  async metrics(index: number): Promise<string> {
    return (await httpGet(this.ns.cluster, this.statusUrl(index, '/metrics'))).body;
  }

  /**
   * The source addresses of the next `count` VRRP advertisements on the LAN (tcpdump on its
   * bridge; at most 3 s): what the replicas' firewalls let them leave with.
   */
  async advertisementSources(count = 3): Promise<string[]> {
    const filter = this.addresses.family === 4 ? ['ip', 'proto', '112'] : ['ip6', 'proto', '112'];
    const result = await execa('ip', ['netns', 'exec', this.ns.lan, 'timeout', '3', 'tcpdump', '-n', '-l', '-i', 'br0', '-c', String(count), ...filter], { reject: false });
    return result.stdout.split('\n').flatMap((line) => {
      const match = /\bIP6? (\S+) > \S+: VRRP/.exec(line);
      return match ? [match[1]!] : [];
    });
  }

  /** The LAN's (the gateway's) ARP or neighbour entry for the source address. */
  async lanNeighbour(): Promise<string | undefined> {
    const entries = JSON.parse(await this.exec(this.ns.lan, ['ip', '-j', 'neigh', 'show', this.addresses.source])) as { lladdr?: string }[];
    return entries[0]?.lladdr;
  }

  /** The node's NIC down or up: the replica's macvlan0 loses (or regains) its carrier. */
  async setLink(index: number, up: boolean): Promise<void> {
    await sh(['ip', '-n', this.ns.nodes[index]!, 'link', 'set', 'nic0', up ? 'up' : 'down']);
  }

  async destroy(): Promise<void> {
    for (const child of this.processes) child.kill('SIGKILL');
    await Promise.allSettled(this.processes);
    for (const ns of [this.ns.client, this.ns.cluster, this.ns.lan, ...this.ns.nodes, ...this.ns.pods]) await execa('ip', ['netns', 'del', ns], { reject: false });
    rmSync(this.scratch, { recursive: true, force: true });
  }
}
