/**
 * Least privilege: the router needs CAP_NET_ADMIN and CAP_NET_RAW, not a privileged container.
 * Each run is wrapped in setpriv, which drops every other capability from the bounding,
 * inheritable and ambient sets (and so from the permitted and effective sets across the exec),
 * as a container runtime does for `capabilities: {drop: [ALL], add: [...]}`.
 */
import { beforeEach, afterEach, expect, it } from 'vitest';
import { describeIntegration } from '../support/integration.js';
import { ADDRESSES, Topology, routerEnv } from '../support/topology.js';

const [D1] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;
const CAP_BITS = { net_admin: 12, net_raw: 13 } as const;
type Capability = keyof typeof CAP_BITS;

/**
 * A setpriv prefix that leaves the process exactly `caps`, plus `extra` setpriv options. As
 * containerd and CRI-O do for a root container, only the bounding set holds them (root regains
 * the bounding set as permitted and effective at each exec); a non-root user keeps capabilities
 * across exec only as ambient capabilities, so `ambient` puts them there too.
 */
function onlyCapabilities(caps: Capability[], extra: string[] = [], ambient = false): string[] {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  const inherited = ambient ? set : '-all';
  return ['setpriv', `--inh-caps=${inherited}`, `--ambient-caps=${inherited}`, `--bounding-set=${set}`, ...extra];
}

/** The capability masks a process started under `wrap` holds, from /proc/self/status. */
async function masksUnder(topology: Topology, wrap: string[]): Promise<Record<string, bigint>> {
  const status = await topology.exec(topology.ns.router, [...wrap, 'cat', '/proc/self/status']);
  const masks: Record<string, bigint> = {};
  for (const [, name, hex] of status.matchAll(/^Cap(\w+):\s+([0-9a-f]+)$/gm)) masks[name!] = BigInt(`0x${hex}`);
  return masks;
}

/** Mounts /proc/sys read-only, as runtimes do for unprivileged containers, then execs the rest. */
const READ_ONLY_PROC_SYS = ['sh', '-c', 'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$@"', 'sh'];

const maskOf = (caps: Capability[]): bigint => caps.reduce((mask, c) => mask | (1n << BigInt(CAP_BITS[c])), 0n);

describeIntegration('least privilege', () => {
  let topology: Topology;
  beforeEach(async () => {
    topology = await Topology.create();
    await topology.startServers(topology.ns.lan, [`tcp:${D1}:80`]);
    // The LAN learns addresses from gratuitous ARP, so the announcement is visible there.
    await topology.exec(topology.ns.lan, ['sysctl', '-qw', 'net.ipv4.conf.lan0.arp_accept=1']);
  });
  afterEach(async () => topology.destroy());

  const env = (extra: Record<string, string> = {}) => routerEnv({ EGRESS_DESTINATION: `80 tcp ${D1}`, ...extra });

  /** The router configured the pod completely: forwarding, announcement, traffic, nothing left to do. */
  async function expectConfigured(): Promise<void> {
    expect(await topology.exec(topology.ns.router, ['sysctl', '-n', 'net.ipv4.ip_forward'])).toBe('1');
    // Before any traffic: only the gratuitous ARP can have taught the LAN the source's address.
    expect(await topology.exec(topology.ns.lan, ['ip', 'neigh', 'show', ADDRESSES.source])).toContain('lladdr');
    expect((await topology.probe([`tcp:${POD}:80`]))[0]!.reply).toBe(`${ADDRESSES.source} ${D1}:80`);
    const again = await topology.runRouter(env(), ['--dry-run']);
    expect(again.stdout).not.toMatch(/^(ip |sysctl )/m);
  }

  for (const backend of ['nftables', 'iptables'] as const) {
    it(`configures the pod with only CAP_NET_ADMIN and CAP_NET_RAW and no privilege escalation (${backend})`, async () => {
      const wrap = onlyCapabilities(['net_admin', 'net_raw'], ['--no-new-privs']);
      const masks = await masksUnder(topology, wrap);
      for (const set of ['Eff', 'Prm', 'Bnd']) expect(masks[set], `Cap${set}`).toBe(maskOf(['net_admin', 'net_raw']));
      for (const set of ['Inh', 'Amb']) expect(masks[set], `Cap${set}`).toBe(0n);
      const run = await topology.runRouter(env({ EGRESS_ROUTER_FIREWALL: backend }), [], { wrap });
      expect(run.stderr).toBe('');
      expect(run.exitCode).toBe(0);
      await expectConfigured();
    });
  }

  it('configures the pod as a non-root user holding the two capabilities as ambient capabilities, forwarding included', async () => {
    // access(2) would call /proc/sys read-only for this user; the kernel lets CAP_NET_ADMIN write it.
    const wrap = onlyCapabilities(['net_admin', 'net_raw'], ['--reuid=65534', '--regid=65534', '--clear-groups'], true);
    expect((await masksUnder(topology, wrap)).Eff).toBe(maskOf(['net_admin', 'net_raw']));
    const run = await topology.runRouter(env(), [], { wrap });
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    await expectConfigured();
  });

  it('configures an unprivileged container (read-only /proc/sys) whose platform already turned forwarding on', async () => {
    await topology.exec(topology.ns.router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const run = await topology.runRouter(env(), [], { wrap: [...READ_ONLY_PROC_SYS, ...onlyCapabilities(['net_admin', 'net_raw'])] });
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    await expectConfigured();
  });

  it('exits 2 naming net.ipv4.ip_forward and changes nothing in an unprivileged container whose forwarding is off', async () => {
    const before = await topology.routerState();
    const run = await topology.runRouter(env(), [], { wrap: [...READ_ONLY_PROC_SYS, ...onlyCapabilities(['net_admin', 'net_raw'])] });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/^egress-router: sysctl net\.ipv4\.ip_forward: is 0 and \/proc\/sys is read-only here; enable it for the pod/);
    expect(run.stderr.split('\n')).toHaveLength(1);
    expect(await topology.routerState()).toBe(before);
  });

  const refusals: [Capability[], string[]][] = [
    [['net_raw'], ['capability CAP_NET_ADMIN: missing; it is needed to configure addresses, routes and the firewall (securityContext.capabilities.add: [NET_ADMIN])']],
    [['net_admin'], ['capability CAP_NET_RAW: missing; it is needed to send gratuitous ARP (securityContext.capabilities.add: [NET_RAW])']],
    [[], ['capability CAP_NET_ADMIN: missing', 'capability CAP_NET_RAW: missing']],
  ];
  for (const [held, messages] of refusals) {
    const missing = messages.map((m) => m.split(':')[0]!.replace('capability ', '')).join(' and ');
    it(`exits 2 naming ${missing} and changes nothing when the pod holds ${held.length ? `only CAP_${held[0]!.toUpperCase()}` : 'no capability'} (default backend)`, async () => {
      const before = await topology.routerState();
      const run = await topology.runRouter(env(), [], { wrap: onlyCapabilities(held) });
      expect(run.exitCode).toBe(2);
      const lines = run.stderr.split('\n');
      expect(lines).toHaveLength(messages.length);
      messages.forEach((message, i) => expect(lines[i]).toContain(`egress-router: ${message}`));
      expect(await topology.routerState()).toBe(before);
    });
  }

  it('prints a dry run with the default backend without any capability', async () => {
    const run = await topology.runRouter(env(), ['--dry-run'], { wrap: onlyCapabilities([]) });
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain("nft -f - <<'RULESET'");
    expect(run.stdout).toMatch(/^ip -4 route replace default via 192\.168\.12\.1 dev macvlan0$/m);
  });
});
