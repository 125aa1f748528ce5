/**
 * IPv6: once the source address is on macvlan0, the router sends an unsolicited neighbour
 * advertisement (the equivalent of the gratuitous ARP), seen here by tcpdump on the LAN side.
 */
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { onPath } from '../../src/system/probe.js';
import { describeIntegration } from '../support/integration.js';
import { LEAST_PRIVILEGE } from '../support/privileges.js';
import { ADDRESSES6, Topology } from '../support/topology.js';

const SOURCE = ADDRESSES6.source;
const STALE_MAC = '02:00:00:00:00:01';

/** tcpdump on the LAN's side of the link, for neighbour advertisements (ICMPv6 type 136) only. */
class Capture {
  private output = '';
  private constructor(private readonly child: ResultPromise) {
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }

  static async start(topology: Topology): Promise<Capture> {
    const child = execa('ip', ['netns', 'exec', topology.ns.lan, 'tcpdump', '-i', 'lan0', '-n', '-l', '-e', '-vv', '-tt', 'icmp6 and ip6[40] == 136'], { reject: false });
    const capture = new Capture(child);
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 10_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    return capture;
  }

  /** Each advertisement for the source address: its first line (time, MACs, header, flags) and option. */
  advertisements(): string[] {
    return this.output.split(/\n(?=\d+\.\d+ )/).filter((packet) => packet.includes(`tgt is ${SOURCE}`));
  }

  /** Waits until `count` advertisements were captured, or `timeoutMs` passed. */
  async waitFor(count: number, timeoutMs: number): Promise<string[]> {
    for (let waited = 0; waited < timeoutMs && this.advertisements().length < count; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.advertisements();
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.child;
  }
}

describeIntegration('IPv6 unsolicited neighbour advertisement', () => {
  let topology: Topology;
  let capture: Capture;
  let mac: string;
  beforeAll(() => {
    if (!onPath('tcpdump')) throw new Error('tcpdump not found: apt-get install tcpdump (.ci/run and scripts/setup.sh install it)');
  });
  beforeEach(async () => {
    topology = await Topology.create();
    await topology.enableIPv6();
    // The previous owner of the source address, as the LAN still remembers it.
    await topology.exec(topology.ns.lan, ['ip', '-6', 'neigh', 'replace', SOURCE, 'lladdr', STALE_MAC, 'dev', 'lan0', 'nud', 'stale']);
    // An unprivileged container cannot turn forwarding on; the platform has.
    await topology.exec(topology.ns.router, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    mac = (await topology.exec(topology.ns.router, ['cat', '/sys/class/net/macvlan0/address'])).trim();
    capture = await Capture.start(topology);
  });
  afterEach(async () => {
    await capture.stop();
    await topology.destroy();
  });

  const env = (mode: string) => ({
    EGRESS_SOURCE: ADDRESSES6.sourceCidr,
    EGRESS_GATEWAY: ADDRESSES6.gateway,
    EGRESS_DESTINATION: `80 tcp ${ADDRESSES6.destinations[0]}`,
    EGRESS_ROUTER_MODE: mode,
  });

  it('announces the source address to all nodes at once, with only NET_ADMIN and NET_RAW and /proc/sys read-only', async () => {
    const run = await topology.runRouter(env('init'), [], { wrap: LEAST_PRIVILEGE });
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    const [advertisement, ...more] = await capture.waitFor(1, 2000);
    expect(more).toEqual([]);
    // From macvlan0's MAC to the all-nodes group, as neighbour discovery requires (hop limit 255),
    // unsolicited (no solicited flag), overriding what neighbours cached, with the new MAC.
    expect(advertisement).toContain(`${mac} > 33:33:00:00:00:01, ethertype IPv6`);
    expect(advertisement).toContain('hlim 255');
    expect(advertisement).toContain(`${SOURCE} > ff02::1: [icmp6 sum ok] ICMP6, neighbor advertisement, length 32, tgt is ${SOURCE}, Flags [override]`);
    expect(advertisement).toMatch(new RegExp(`destination link-address option \\(2\\), length 8 \\(1\\): ${mac}`));
    // The LAN replaced the previous owner's MAC.
    expect(await topology.exec(topology.ns.lan, ['ip', '-6', 'neigh', 'show', SOURCE, 'dev', 'lan0'])).toContain(`lladdr ${mac}`);
  });

  it('repeats the advertisement 2 s later in legacy mode', async () => {
    const router = topology.startRouter(env('legacy'));
    const advertisements = await capture.waitFor(2, 6000);
    router.kill('SIGTERM');
    expect((await router).exitCode).toBe(0);
    expect(advertisements).toHaveLength(2);
    const [first, second] = advertisements.map((a) => Number(a.split(' ')[0]));
    expect(second! - first!).toBeGreaterThanOrEqual(1.9);
  });
});
