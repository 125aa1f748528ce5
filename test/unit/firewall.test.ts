/** One ruleset, two backends: what each renders, and how iptables converges between snapshots. */
import { describe, expect, it } from 'vitest';
import {
  emptySnapshot,
  parseSaveOutput,
  renderIptablesConverge,
  wantedSnapshot,
} from '../../src/firewall/iptables.js';
import { renderNftables } from '../../src/firewall/nftables.js';
import type { Ruleset } from '../../src/firewall/ruleset.js';
import { parseCapabilities } from '../../src/system/capabilities.js';
import { dropCounterCommand, parseDropCount } from '../../src/firewall/drops.js';

const v4 = (text: string) => ({ family: 4 as const, text });
const RULESET: Ruleset = {
  family: 4,
  clusterInterface: 'eth0',
  egressInterface: 'macvlan0',
  source: v4('192.168.12.99'),
  redirects: [
    { protocol: 'tcp', port: 80, targets: [v4('203.0.113.25')], targetPort: 80 },
    { protocol: 'udp', port: 53, targets: [v4('203.0.113.26')], targetPort: 5353 },
    { protocol: 'sctp', port: 9, targets: [v4('203.0.113.26')], targetPort: 9 },
  ],
  fallback: { targets: [v4('203.0.113.27')] },
  localPorts: [],
  perRuleCounters: true,
  logDrops: false,
};

describe('nftables rendering', () => {
  const text = renderNftables(RULESET);

  it('replaces the router’s own table in one transaction and touches no other table', () => {
    expect(text.split('\n').slice(0, 3)).toEqual(['table ip egress_router', 'delete table ip egress_router', 'table ip egress_router {']);
    expect(text.match(/^\S.*$/gm)).toEqual(['table ip egress_router', 'delete table ip egress_router', 'table ip egress_router {', '}']);
    expect(text).not.toMatch(/flush ruleset/);
  });

  it('keeps every redirect in a map keyed on protocol and port, looked up by one static rule', () => {
    expect(text).toContain('type inet_proto . inet_service : ipv4_addr . inet_service');
    expect(text).toContain('\t\t\ttcp . 80 : 203.0.113.25 . 80,\n\t\t\tudp . 53 : 203.0.113.26 . 5353,\n\t\t\tsctp . 9 : 203.0.113.26 . 9\n');
    expect(text).toContain('iifname "eth0" fib daddr type local dnat ip to meta l4proto . th dport map @redirects');
  });

  it('goes to the fallback after the map lookups, and the fallback translates to its address', () => {
    const prerouting = text.slice(text.indexOf('chain prerouting'));
    const lookup = prerouting.indexOf('map @redirects');
    const verdicts = prerouting.indexOf('vmap @verdicts');
    const fallback = prerouting.indexOf('goto fallback');
    expect(lookup).toBeGreaterThan(0);
    expect(verdicts).toBeGreaterThan(lookup);
    expect(fallback).toBeGreaterThan(verdicts);
    expect(text).toContain('\tchain fallback {\n\t\tcounter name fallback_connections dnat ip to 203.0.113.27\n\t}');
  });

  it('has no fallback rule without a fallback, so unlisted ports reach the pod and are refused', () => {
    expect(renderNftables({ ...RULESET, fallback: undefined })).not.toMatch(/dnat ip to \d/);
  });

  it('translates everything leaving the egress interface to the source address', () => {
    expect(text).toContain('oifname "macvlan0" snat ip to 192.168.12.99');
  });

  it('forwards only redirected connections and their replies, and counts the rest as drops', () => {
    const forward = text.slice(text.indexOf('chain forward'));
    expect(forward).toContain('iifname "eth0" oifname "macvlan0" ct status dnat counter name fallback_out accept');
    expect(forward).toContain('iifname "macvlan0" oifname "eth0" ct status dnat counter name fallback_in accept');
    expect(forward).toContain('counter name forward_dropped drop');
    expect(forward).not.toContain('log prefix');
    expect(renderNftables({ ...RULESET, logDrops: true })).toContain('log prefix "egress-router drop: " level debug');
  });

  it('renders an empty map without an elements clause, which nft would refuse', () => {
    expect(renderNftables({ ...RULESET, redirects: [] })).not.toContain('elements');
  });

  it('renders IPv6 with the ip6 family and address type', () => {
    const v6 = (t: string) => ({ family: 6 as const, text: t });
    const text6 = renderNftables({ ...RULESET, family: 6, source: v6('2001:db8::99'), redirects: [{ protocol: 'tcp', port: 80, targets: [v6('2001:db8::25')], targetPort: 8080 }], fallback: { targets: [v6('2001:db8::27')] } });
    expect(text6).toContain('table ip6 egress_router {');
    expect(text6).toContain('type inet_proto . inet_service : ipv6_addr . inet_service');
    expect(text6).toContain('tcp . 80 : 2001:db8::25 . 8080');
    expect(text6).toContain('dnat ip6 to 2001:db8::27');
    expect(text6).toContain('snat ip6 to 2001:db8::99');
  });
});

describe('iptables rendering', () => {
  const wanted = wantedSnapshot(RULESET);

  it('owns a chain per hook, reached from the built-in chain by one jump', () => {
    expect([...wanted.nat.chains.keys()]).toEqual(['EGRESS-ROUTER-PREROUTING', 'EGRESS-ROUTER-POSTROUTING']);
    expect([...wanted.filter.chains.keys()]).toEqual(['EGRESS-ROUTER-FORWARD', 'EGRESS-ROUTER-INPUT']);
    expect(wanted.nat.jumps).toEqual([
      { from: 'PREROUTING', spec: '-j EGRESS-ROUTER-PREROUTING' },
      { from: 'POSTROUTING', spec: '-j EGRESS-ROUTER-POSTROUTING' },
    ]);
  });

  it('redirects in list order with the fallback last, only for traffic to the pod on the cluster interface', () => {
    expect(wanted.nat.chains.get('EGRESS-ROUTER-PREROUTING')).toEqual([
      '! -i eth0 -j RETURN',
      '-m addrtype ! --dst-type LOCAL -j RETURN',
      '-p tcp -m tcp --dport 80 -j DNAT --to-destination 203.0.113.25:80',
      '-p udp -m udp --dport 53 -j DNAT --to-destination 203.0.113.26:5353',
      '-p sctp -m sctp --dport 9 -j DNAT --to-destination 203.0.113.26:9',
      '-j DNAT --to-destination 203.0.113.27',
    ]);
  });

  it('filters forwarding the same way as the nftables backend', () => {
    expect(wanted.filter.chains.get('EGRESS-ROUTER-FORWARD')).toEqual([
      '-i eth0 -o macvlan0 -m conntrack --ctstate DNAT -j ACCEPT',
      '-i macvlan0 -o eth0 -m conntrack --ctstate DNAT -j ACCEPT',
      '-j DROP',
    ]);
  });

  it('loads a first run with --noflush semantics: declares its chains and inserts the jumps once', () => {
    const text = renderIptablesConverge(emptySnapshot(), wanted);
    expect(text).toContain('*filter\n:EGRESS-ROUTER-FORWARD - [0:0]\n');
    expect(text).toContain('-I FORWARD 1 -j EGRESS-ROUTER-FORWARD\n');
    expect(text).toContain('-I PREROUTING 1 -j EGRESS-ROUTER-PREROUTING\n');
    expect(text.indexOf('*filter')).toBeLessThan(text.indexOf('*nat'));
  });

  it('does not add the jumps again on a restart', () => {
    const text = renderIptablesConverge(wanted, wanted);
    expect(text).not.toMatch(/^-I /m);
    expect(text).toContain('-A EGRESS-ROUTER-PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 203.0.113.25:80');
  });

  it('rolls back to an empty state by deleting its jumps and chains, and nothing else', () => {
    const text = renderIptablesConverge(wanted, emptySnapshot());
    expect(text).toContain('-D PREROUTING -j EGRESS-ROUTER-PREROUTING\n');
    expect(text).toContain('-X EGRESS-ROUTER-PREROUTING\n');
    expect(text).not.toMatch(/^-A /m);
    expect(text.indexOf('-D FORWARD')).toBeLessThan(text.indexOf('-X EGRESS-ROUTER-FORWARD'));
  });

  it('reads its own chains and jumps out of iptables-save, ignoring everyone else’s', () => {
    const save = [
      '# Generated by iptables-save',
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':KUBE-SERVICES - [0:0]',
      ':EGRESS-ROUTER-PREROUTING - [0:0]',
      '-A PREROUTING -j EGRESS-ROUTER-PREROUTING',
      '-A PREROUTING -j KUBE-SERVICES',
      '-A EGRESS-ROUTER-PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 203.0.113.25:80',
      '-A KUBE-SERVICES -j RETURN',
      'COMMIT',
    ].join('\n');
    const snapshot = parseSaveOutput('nat', save);
    expect(snapshot.nat.chains).toEqual(new Map([['EGRESS-ROUTER-PREROUTING', ['-p tcp -m tcp --dport 80 -j DNAT --to-destination 203.0.113.25:80']]]));
    expect(snapshot.nat.jumps).toEqual([{ from: 'PREROUTING', spec: '-j EGRESS-ROUTER-PREROUTING' }]);
    expect(snapshot.filter.chains.size).toBe(0);
  });

  it('brackets IPv6 targets with ports', () => {
    const v6 = (t: string) => ({ family: 6 as const, text: t });
    const snapshot = wantedSnapshot({ ...RULESET, family: 6, source: v6('2001:db8::99'), redirects: [{ protocol: 'tcp', port: 80, targets: [v6('2001:db8::25')], targetPort: 80 }], fallback: undefined });
    expect(snapshot.nat.chains.get('EGRESS-ROUTER-PREROUTING')).toContain('-p tcp -m tcp --dport 80 -j DNAT --to-destination [2001:db8::25]:80');
  });
});

describe('capabilities', () => {
  it('reads CAP_NET_ADMIN (bit 12) and CAP_NET_RAW (bit 13) from CapEff', () => {
    expect(parseCapabilities('CapInh:\t0\nCapEff:\t0000000000003000\n')).toEqual({ netAdmin: true, netRaw: true });
    expect(parseCapabilities('CapEff:\t0000000000001000\n')).toEqual({ netAdmin: true, netRaw: false });
    expect(parseCapabilities('CapEff:\t000001ffffffffff\n')).toEqual({ netAdmin: true, netRaw: true });
    expect(parseCapabilities('CapEff:\t0000000000000000\n')).toEqual({ netAdmin: false, netRaw: false });
    expect(parseCapabilities('')).toEqual({ netAdmin: false, netRaw: false });
  });
});

describe('drop counter', () => {
  it('reads the nftables named counter', () => {
    expect(dropCounterCommand('nftables', 4)).toEqual(['nft', 'list', 'counter', 'ip', 'egress_router', 'forward_dropped']);
    expect(parseDropCount('nftables', 'table ip egress_router {\n\tcounter forward_dropped {\n\t\tpackets 17 bytes 1020\n\t}\n}')).toBe(17);
  });

  it('reads the packet count of the DROP rule in the iptables chain', () => {
    const listing = [
      'Chain EGRESS-ROUTER-FORWARD (1 references)',
      '    pkts      bytes target     prot opt in     out     source               destination',
      '      12      720 ACCEPT     0    --  eth0   macvlan0  0.0.0.0/0            0.0.0.0/0            ctstate DNAT',
      '       3      180 DROP       0    --  *      *       0.0.0.0/0            0.0.0.0/0',
    ].join('\n');
    expect(parseDropCount('iptables', listing)).toBe(3);
    expect(dropCounterCommand('iptables', 6)[0]).toBe('ip6tables');
  });
});
