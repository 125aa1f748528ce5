/**
 * An HTTP proxy egress pod in the test topology, set up as the legacy two-container pod is: the
 * router configures the pod's network (EGRESS_ROUTER_MODE=http-proxy, as the init container),
 * then the proxy container runs the built CLI with only EGRESS_HTTP_PROXY_* variables, as a
 * non-root user with no capabilities. A real DNS server (dnsmasq) answers the test names from the
 * cluster side, at 10.128.0.1, which the pod reaches on-link through eth0; the proxy reads a
 * resolv.conf of the test's own (EGRESS_ROUTER_RESOLV_CONF).
 */
import { execa, type ResultPromise } from 'execa';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { type DnsRecord, DnsServer } from './dns-server.js';
import { waitForOutput } from './output.js';
import { ADDRESSES, ENTRY, ROOT, Topology } from './topology.js';

const FIXTURES = `${ROOT}/test/fixtures`;
export const NAMESERVER = '10.128.0.1';
/** What a pod's container runtime gives an unprivileged container: another user, no capabilities. */
const UNPRIVILEGED = ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs'];

export interface StartedProxy {
  child: ResultPromise;
  /** Everything the proxy printed on stdout so far (its JSON logs). */
  output: () => string;
}

export class ProxyPod {
  private readonly children: ResultPromise[] = [];
  private hitsOutput: () => string = () => '';

  private constructor(
    readonly topology: Topology,
    readonly dns: DnsServer,
    private readonly dir: string,
    readonly resolvConf: string,
  ) {}

  /** The topology, the pod's network configured by the router, the DNS server and the destinations. */
  static async create(records: DnsRecord[], servers: string[]): Promise<ProxyPod> {
    const topology = await Topology.create();
    let dns: DnsServer | undefined;
    try {
      const init = await topology.runRouter({ EGRESS_SOURCE: ADDRESSES.sourceCidr, EGRESS_GATEWAY: ADDRESSES.gateway, EGRESS_ROUTER_MODE: 'http-proxy' });
      if (init.exitCode !== 0) throw new Error(`the router's network set-up failed: ${init.stderr}`);
      dns = await DnsServer.start(topology.ns.cluster, NAMESERVER, records);
      const dir = mkdtempSync(join(os.tmpdir(), 'egress-router-proxy-test-'));
      chmodSync(dir, 0o755);
      const resolvConf = join(dir, 'resolv.conf');
      writeFileSync(resolvConf, `nameserver ${NAMESERVER}\noptions timeout:1 attempts:1\n`, { mode: 0o644 });
      const pod = new ProxyPod(topology, dns, dir, resolvConf);
      const child = execa('ip', ['netns', 'exec', topology.ns.lan, process.execPath, `${FIXTURES}/http-server.mjs`, ...servers], { reject: false });
      pod.children.push(child);
      pod.hitsOutput = await waitForOutput(child, 'ready', 'destination servers');
      return pod;
    } catch (error) {
      await dns?.stop();
      await topology.destroy();
      throw error;
    }
  }

  /** What reached the destinations: `http:203.0.113.25:80 192.168.12.99 GET /path`. */
  hits(): string[] {
    return this.hitsOutput().split('\n').filter((l) => l.startsWith('hit ')).map((l) => l.slice(4));
  }

  /**
   * Starts the proxy container in the router pod's namespace, unprivileged, and waits until it
   * serves. The first one serves the status endpoint on its default port; the tests' further
   * proxies in the same pod, which a real pod would not have, go without one.
   */
  async startProxy(env: Record<string, string>): Promise<StartedProxy> {
    const status = this.children.some((c) => c.spawnargs.includes(ENTRY)) ? { EGRESS_ROUTER_STATUS_PORT: 'off' } : {};
    const child = execa('ip', ['netns', 'exec', this.topology.ns.router, ...UNPRIVILEGED, process.execPath, ENTRY], {
      env: { PATH: process.env.PATH ?? '', EGRESS_ROUTER_RESOLV_CONF: this.resolvConf, ...status, ...env },
      extendEnv: false,
      reject: false,
    });
    this.children.push(child);
    const output = await waitForOutput(child, 'http proxy ready', 'http proxy');
    return { child, output };
  }

  /** Runs the client fixture in `ns` (the client pod by default) and returns a result per step. */
  async client(proxy: string, steps: object[], ns = this.topology.ns.client): Promise<Record<string, any>[]> {
    const out = await this.topology.exec(ns, [process.execPath, `${FIXTURES}/http-proxy-client.mjs`, JSON.stringify({ proxy, steps })]);
    return JSON.parse(out) as Record<string, any>[];
  }

  /** The same, without waiting: for steps that must overlap with something the test does. */
  clientInBackground(proxy: string, steps: object[]): ResultPromise {
    const child = execa('ip', ['netns', 'exec', this.topology.ns.client, process.execPath, `${FIXTURES}/http-proxy-client.mjs`, JSON.stringify({ proxy, steps })], { reject: false });
    this.children.push(child);
    return child;
  }

  async destroy(): Promise<void> {
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.allSettled(this.children);
    await this.dns.stop();
    await this.topology.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
