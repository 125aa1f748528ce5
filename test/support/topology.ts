/**
 * Real network namespaces standing in for a cluster, for integration tests, the demo, the
 * benchmark and the image check. Nothing here touches the machine's own network: every address,
 * route, sysctl and rule lives in namespaces this module creates and removes.
 *
 *   client (10.129.0.10) -- cluster (a router standing in for the pod network)
 *                                 |
 *                           router pod: eth0 (10.128.0.5), macvlan0 (EGRESS_SOURCE)
 *                                                               |  macvlan on node's nic0
 *                           node (nic0) ------------------- lan (gateway 192.168.12.1,
 *                                                                destinations 203.0.113.x)
 *
 * Pod styles: `sdn` gives eth0 a /24 and a route to the cluster network, as OpenShift SDN and
 * OVN-Kubernetes do; `calico` gives it a /32 and only `default via 169.254.1.1`, reached by
 * proxy ARP, so replies depend on the router's own reply routing.
 */
import { execa, type ResultPromise } from 'execa';
import { waitForOutput } from './output.js';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this module (or its bundle) with our package.json. */
function findRoot(start: string): string {
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'egress-router') return dir;
  }
  throw new Error(`no egress-router package.json above ${start}`);
}

export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const ENTRY = `${ROOT}/dist/egress-router.js`;
const FIXTURES = `${ROOT}/test/fixtures`;

/**
 * Every namespace this code creates starts with this, so leftovers are easy to find and remove.
 * EGRESS_ROUTER_TEST_NS_PREFIX replaces it where several people share a machine.
 */
export const NAMESPACE_PREFIX = process.env.EGRESS_ROUTER_TEST_NS_PREFIX || 'ert-';

export const ADDRESSES = {
  client: '10.129.0.10',
  pod: '10.128.0.5',
  gateway: '192.168.12.1',
  source: '192.168.12.99',
  sourceCidr: '192.168.12.99/24',
  destinations: ['203.0.113.25', '203.0.113.26', '203.0.113.27'],
} as const;

/** The IPv6 addressing plan, added by `enableIPv6()` next to the IPv4 one. */
export const ADDRESSES6 = {
  client: 'fd00:129::10',
  pod: 'fd00:128::5',
  gateway: '2001:db8:12::1',
  sourceCidr: '2001:db8:12::99/64',
  source: '2001:db8:12::99',
  destinations: ['2001:db8:99::25', '2001:db8:99::26'],
} as const;

export type PodStyle = 'sdn' | 'calico';

export interface TopologyOptions {
  style?: PodStyle;
  /** Without it, the router pod has no macvlan0: the entrypoint must refuse to run. */
  macvlan?: boolean;
}

export interface RunResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** Wall time of the run, in milliseconds. */
  ms: number;
}

export type ProbeResult = { target: string; ok: boolean; reply?: string; error?: string };

async function sh(argv: string[], input?: string): Promise<string> {
  const result = await execa(argv[0]!, argv.slice(1), { input, reject: false });
  if (result.failed) throw new Error(`${argv.join(' ')} failed: ${result.stderr || result.message}`);
  return result.stdout;
}

export async function listNamespaces(): Promise<string[]> {
  const out = await sh(['ip', 'netns', 'list']);
  return out.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n !== '');
}

/** Removes every namespace whose name starts with `prefix`; used by teardown after failures. */
export async function removeNamespaces(prefix: string): Promise<void> {
  for (const name of await listNamespaces()) {
    if (name.startsWith(prefix)) await execa('ip', ['netns', 'del', name], { reject: false });
  }
}

export class Topology {
  readonly ns: { client: string; cluster: string; router: string; node: string; lan: string };
  private readonly processes: ResultPromise[] = [];

  private constructor(readonly id: string, readonly style: PodStyle) {
    const name = (role: string) => `${NAMESPACE_PREFIX}${id}-${role}`;
    this.ns = { client: name('client'), cluster: name('cluster'), router: name('router'), node: name('node'), lan: name('lan') };
  }

  /** Builds the whole topology; on any failure removes what it made and rethrows. */
  static async create(options: TopologyOptions = {}): Promise<Topology> {
    const runId = process.env.EGRESS_ROUTER_TEST_RUN ?? '';
    const topology = new Topology(`${runId}${randomBytes(3).toString('hex')}`, options.style ?? 'sdn');
    try {
      await topology.build(options.macvlan ?? true);
      return topology;
    } catch (error) {
      await topology.destroy();
      throw error;
    }
  }

  /** `ip -n NS ...` commands, one `ip -batch` per namespace to keep set-up fast. */
  private async batch(ns: string, lines: string[]): Promise<void> {
    await sh(['ip', '-n', ns, '-batch', '-'], `${lines.join('\n')}\n`);
  }

  async exec(ns: string, argv: string[], input?: string): Promise<string> {
    return sh(['ip', 'netns', 'exec', ns, ...argv], input);
  }

  private async build(macvlan: boolean): Promise<void> {
    const { client, cluster, router, node, lan } = this.ns;
    for (const ns of Object.values(this.ns)) await sh(['ip', 'netns', 'add', ns]);
    // Links: client <-> cluster <-> router eth0; node nic0 <-> lan; macvlan0 moves from node to router.
    await sh(['ip', 'link', 'add', 'c0', 'netns', client, 'type', 'veth', 'peer', 'name', 'k1', 'netns', cluster]);
    await sh(['ip', 'link', 'add', 'eth0', 'netns', router, 'type', 'veth', 'peer', 'name', 'k0', 'netns', cluster]);
    await sh(['ip', 'link', 'add', 'nic0', 'netns', node, 'type', 'veth', 'peer', 'name', 'lan0', 'netns', lan]);
    const nodeLines = ['link set lo up', 'link set nic0 up'];
    if (macvlan) nodeLines.push('link add macvlan0 link nic0 type macvlan mode bridge', `link set macvlan0 netns ${router}`);
    await this.batch(node, nodeLines);

    await this.batch(client, ['link set lo up', `addr add ${ADDRESSES.client}/24 dev c0`, 'link set c0 up', 'route add default via 10.129.0.1']);
    await this.exec(cluster, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    await this.batch(lan, [
      'link set lo up',
      `addr add ${ADDRESSES.gateway}/24 dev lan0`,
      'link set lan0 up',
      ...ADDRESSES.destinations.map((d) => `addr add ${d}/32 dev lo`),
    ]);
    if (this.style === 'sdn') {
      await this.batch(cluster, ['link set lo up', 'addr add 10.129.0.1/24 dev k1', 'link set k1 up', 'addr add 10.128.0.1/24 dev k0', 'link set k0 up']);
      await this.batch(router, ['link set lo up', `addr add ${ADDRESSES.pod}/24 dev eth0`, 'link set eth0 up', 'route add default via 10.128.0.1 dev eth0']);
    } else {
      // Calico: the host side has no address, answers ARP for 169.254.1.1 by proxy, routes the /32.
      await this.batch(cluster, ['link set lo up', 'addr add 10.129.0.1/24 dev k1', 'link set k1 up', 'link set k0 up', `route add ${ADDRESSES.pod}/32 dev k0`, 'route add default dev k1']);
      await this.exec(cluster, ['sysctl', '-qw', 'net.ipv4.conf.k0.proxy_arp=1']);
      await this.batch(router, [
        'link set lo up',
        `addr add ${ADDRESSES.pod}/32 dev eth0`,
        'link set eth0 up',
        'route add 169.254.1.1 dev eth0 scope link',
        'route add default via 169.254.1.1 dev eth0',
      ]);
    }
  }

  /** Adds IPv6 addresses and routes (sdn style), without duplicate address detection delays. */
  async enableIPv6(): Promise<void> {
    const { client, cluster, router, lan } = this.ns;
    const a = ADDRESSES6;
    for (const ns of [client, cluster, router, lan]) {
      await this.exec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    }
    // macvlan0 was made in the node namespace and came with its defaults; its link-local address
    // would stay tentative for a second or two after the router brings the link up.
    await this.exec(router, ['sh', '-c', 'test ! -e /proc/sys/net/ipv6/conf/macvlan0 || sysctl -qw net.ipv6.conf.macvlan0.accept_dad=0']);
    await this.exec(cluster, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    await this.batch(client, [`addr add ${a.client}/64 dev c0 nodad`, 'route add default via fd00:129::1']);
    await this.batch(cluster, ['addr add fd00:129::1/64 dev k1 nodad', 'addr add fd00:128::1/64 dev k0 nodad']);
    await this.batch(router, [`addr add ${a.pod}/64 dev eth0 nodad`, 'route add default via fd00:128::1 dev eth0']);
    await this.batch(lan, [`addr add ${a.gateway}/64 dev lan0 nodad`, ...a.destinations.map((d) => `addr add ${d}/128 dev lo`)]);
    // Links that came up before DAD was turned off still probe their link-local addresses, and
    // neighbour discovery waits for them: wait (at most 5 s) until none is tentative.
    for (let waited = 0; waited < 5000; waited += 100) {
      const tentative = await Promise.all([client, cluster, router, lan].map((ns) => this.exec(ns, ['ip', '-6', 'addr', 'show', 'tentative'])));
      if (tentative.every((out) => out.trim() === '')) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * Runs the built router in the router pod's namespace with exactly this environment (plus PATH).
   * `wrap` is a command prefix that execs the router, such as `setpriv` with reduced capabilities.
   */
  async runRouter(env: Record<string, string>, args: string[] = [], options: { path?: string; wrap?: string[] } = {}): Promise<RunResult> {
    const started = performance.now();
    const command = [...(options.wrap ?? []), process.execPath, ENTRY, ...args];
    const result = await execa('ip', ['netns', 'exec', this.ns.router, ...command], {
      env: { PATH: options.path ?? process.env.PATH ?? '', ...env },
      extendEnv: false,
      reject: false,
      timeout: 60_000,
    });
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, ms: performance.now() - started };
  }

  /** Starts the router without waiting, for legacy mode; the caller signals and awaits it. */
  startRouter(env: Record<string, string>): ResultPromise {
    const child = execa('ip', ['netns', 'exec', this.ns.router, process.execPath, ENTRY], {
      env: { PATH: process.env.PATH ?? '', ...env },
      extendEnv: false,
      reject: false,
    });
    this.processes.push(child);
    return child;
  }

  /**
   * Starts echo servers in a namespace and waits until they listen. Specs: tcp:ADDR:PORT,
   * udp:ADDR:PORT. `hits()` lists what arrived ("tcp 192.168.12.1 10.129.0.10:7000"), when
   * `logHits` is set: the way to tell "never arrived" from "arrived but the reply was lost".
   */
  async startServers(ns: string, specs: readonly string[], options: { logHits?: boolean } = {}): Promise<{ hits: () => string[] }> {
    const args = options.logHits ? ['--log-hits', ...specs] : specs;
    const child = execa('ip', ['netns', 'exec', ns, process.execPath, `${FIXTURES}/echo-server.mjs`, ...args], { reject: false });
    this.processes.push(child);
    const printed = await waitForOutput(child, 'ready', 'echo server');
    return {
      hits: () => printed().split('\n').filter((l) => l.startsWith('hit ')).map((l) => l.slice(4)),
    };
  }

  /** Connects from a namespace (the client pod by default) to each target once (or `count` times). */
  async probe(targets: readonly string[], options: { from?: string; timeoutMs?: number; count?: number } = {}): Promise<ProbeResult[]> {
    const out = await this.exec(options.from ?? this.ns.client, [
      process.execPath,
      `${FIXTURES}/probe-client.mjs`,
      '--timeout',
      String(options.timeoutMs ?? 1500),
      ...(options.count === undefined ? [] : ['--count', String(options.count)]),
      ...targets,
    ]);
    return JSON.parse(out) as ProbeResult[];
  }

  /** Everything the router could change in its namespace, as text, to compare before and after. */
  async routerState(): Promise<string> {
    const ns = this.ns.router;
    const parts = await Promise.all([
      this.exec(ns, ['ip', '-4', 'addr', 'show']),
      this.exec(ns, ['ip', '-4', 'route', 'show', 'table', 'all']),
      this.exec(ns, ['ip', '-4', 'rule', 'show']),
      this.exec(ns, ['nft', 'list', 'ruleset']),
      this.exec(ns, ['sysctl', 'net.ipv4.ip_forward']),
    ]);
    // Counters and interface statistics move on their own; the configuration does not.
    return parts.join('\n---\n').replace(/packets \d+ bytes \d+/g, 'packets N bytes N');
  }

  async destroy(): Promise<void> {
    for (const child of this.processes) child.kill('SIGKILL');
    await Promise.allSettled(this.processes);
    for (const ns of Object.values(this.ns)) await execa('ip', ['netns', 'del', ns], { reject: false });
  }
}

/** The environment of a typical redirect-mode router pod in this topology. */
export function routerEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    EGRESS_SOURCE: ADDRESSES.sourceCidr,
    EGRESS_GATEWAY: ADDRESSES.gateway,
    EGRESS_ROUTER_MODE: 'init',
    ...extra,
  };
}
