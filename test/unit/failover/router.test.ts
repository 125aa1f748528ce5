/**
 * What the rest of the router does differently with failover on: the planner leaves the source
 * address to keepalived, and the preflight check asks for keepalived's tools and capability.
 */
import { describe, expect, it } from 'vitest';
import { type Config, parseConfig } from '../../../src/config/config.js';
import { failoverPreflight } from '../../../src/failover/preflight.js';
import type { LinkAddress, Observed } from '../../../src/plan/observed.js';
import { planNetwork } from '../../../src/plan/network.js';
import { preflight } from '../../../src/plan/preflight.js';
import { formatProblem } from '../../../src/problem.js';

function config(env: Record<string, string> = {}): Config {
  const result = parseConfig(
    { EGRESS_SOURCE: '192.168.12.99/24', EGRESS_GATEWAY: '192.168.12.1', EGRESS_DESTINATION: '80 tcp 203.0.113.25', EGRESS_ROUTER_MODE: 'legacy', ...env },
    () => ({ ok: false, reason: 'no files in unit tests' }),
  );
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.value;
}

function pod(egressAddresses: LinkAddress[], up = true): Observed {
  return {
    egress: { name: 'macvlan0', kind: 'macvlan', up, addresses: egressAddresses },
    cluster: { name: 'eth0', kind: 'veth', up: true, addresses: [{ family: 4, text: '10.128.0.5', prefix: 24, scope: 'global' }] },
    mainRoutes: [
      { dst: 'default', gateway: '192.168.12.1', dev: 'macvlan0', onlink: false },
      { dst: '192.168.12.1', dev: 'macvlan0', scope: 'link', onlink: false },
      { dst: '10.128.0.0/24', dev: 'eth0', scope: 'link', prefsrc: '10.128.0.5', onlink: false },
    ],
    replyRoutes: [{ dst: '10.128.0.0/24', dev: 'eth0', scope: 'link', prefsrc: '10.128.0.5', onlink: false }],
    rules: [{ priority: 4552, src: 'all', iif: 'macvlan0', table: '4552' }, { priority: 4552, src: '10.128.0.5', table: '4552' }],
    forwarding: { value: '1', writable: true },
    nameservers: [],
    capabilities: { netAdmin: true, netRaw: true },
    tools: { ip: true, nft: true, arping: true, keepalived: true, setpriv: true, mkfifo: true },
    firewallBackend: 'nftables',
  };
}

const SOURCE: LinkAddress = { family: 4, text: '192.168.12.99', prefix: 24, scope: 'global' };
const LINK_LOCAL: LinkAddress = { family: 4, text: '169.254.222.249', prefix: 32, scope: 'link' };
const commands = (observed: Observed, owner: 'router' | 'keepalived', cfg = config()) => planNetwork(cfg, observed, owner).map((s) => (s.kind === 'sysctl' ? s.key : s.argv.join(' ')));

describe('the network plan with failover on', () => {
  it('does not add the source address on a replica without it (a backup)', () => {
    expect(commands(pod([LINK_LOCAL]), 'keepalived')).toEqual([]);
    expect(commands(pod([LINK_LOCAL]), 'router')).toEqual(['ip -4 addr replace 192.168.12.99/24 dev macvlan0']);
  });

  it('does not remove the source address from the replica keepalived gave it to (the holder), nor keepalived\'s link-local address', () => {
    expect(commands(pod([LINK_LOCAL, SOURCE]), 'keepalived')).toEqual([]);
  });

  // Removing an address may flush the routes through the interface: they are put back after it.
  const ROUTES_BACK = ['ip -4 route replace 192.168.12.1 dev macvlan0', 'ip -4 route replace default via 192.168.12.1 dev macvlan0'];

  it('still removes a stale global address, brings the link up, and puts the routes back', () => {
    const stale: LinkAddress = { family: 4, text: '192.168.12.98', prefix: 24, scope: 'global' };
    expect(commands(pod([LINK_LOCAL, stale, SOURCE], false), 'keepalived')).toEqual(['ip -4 addr del 192.168.12.98/24 dev macvlan0', 'ip link set macvlan0 up', ...ROUTES_BACK]);
  });

  it('treats the source with another prefix as stale: keepalived adds it with EGRESS_SOURCE\'s', () => {
    expect(commands(pod([{ ...SOURCE, prefix: 25 }]), 'keepalived')).toEqual(['ip -4 addr del 192.168.12.99/25 dev macvlan0', ...ROUTES_BACK]);
  });
});

describe('the preflight check with failover on', () => {
  it('passes a pod with keepalived, setpriv and mkfifo and the router\'s two capabilities', () => {
    expect(failoverPreflight(config(), pod([]))).toEqual([]);
  });

  it('names each missing tool and what provides it', () => {
    const observed = pod([]);
    observed.tools = { ...observed.tools, keepalived: false, setpriv: false };
    expect(failoverPreflight(config(), observed).map(formatProblem)).toEqual([
      'command keepalived: not found on PATH; failover (EGRESS_ROUTER_VRRP_ID) needs keepalived, setpriv (util-linux) and mkfifo (coreutils) in the image',
      'command setpriv: not found on PATH; failover (EGRESS_ROUTER_VRRP_ID) needs keepalived, setpriv (util-linux) and mkfifo (coreutils) in the image',
    ]);
  });

  it('asks for CAP_NET_RAW once, in keepalived\'s name, for either family (not for the router\'s own announcement)', () => {
    const observed = pod([]);
    observed.capabilities = { netAdmin: true, netRaw: false };
    const v6 = config({ EGRESS_SOURCE: '2001:db8:12::99/64', EGRESS_GATEWAY: '2001:db8:12::1', EGRESS_DESTINATION: '80 tcp 2001:db8:99::25', EGRESS_ROUTER_VRRP_ID: '42' });
    expect(preflight(config({ EGRESS_ROUTER_VRRP_ID: '42' }), observed).map(formatProblem)).toEqual([
      "capability CAP_NET_RAW: missing; failover (EGRESS_ROUTER_VRRP_ID) needs it for keepalived's VRRP advertisements and gratuitous ARP (securityContext.capabilities.add: [NET_RAW])",
    ]);
    expect(preflight(v6, { ...observed, cluster: { ...observed.cluster!, addresses: [{ family: 6, text: 'fd00:128::5', prefix: 64, scope: 'global' }] } }).map(formatProblem)).toEqual([
      "capability CAP_NET_RAW: missing; failover (EGRESS_ROUTER_VRRP_ID) needs it for keepalived's VRRP advertisements and unsolicited neighbour advertisements (securityContext.capabilities.add: [NET_RAW])",
    ]);
    expect(failoverPreflight({ ...v6, dryRun: true }, observed)).toEqual([]);
  });
});
