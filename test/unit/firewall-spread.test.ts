/**
 * What both backends render for the resolved ruleset: spreading over several addresses, refusing
 * a rule without an address instead of falling through to the fallback, the pod's own ports,
 * per-rule counters, the input filter and the VRRP exemption.
 */
import { describe, expect, it } from 'vitest';
import { wantedSnapshot } from '../../src/firewall/iptables.js';
import { renderNftables } from '../../src/firewall/nftables.js';
import { rule, ruleset, v4, v6 } from './support/rulesets.js';

const RULESET = ruleset(
  [
    rule('tcp', 80, ['203.0.113.25']),
    rule('tcp', 5432, ['203.0.113.25', '203.0.113.26', '203.0.113.27']),
    rule('udp', 53, []),
    rule('sctp', 9, ['203.0.113.26']),
  ],
  { fallback: { targets: [v4('203.0.113.27'), v4('203.0.113.28')] }, localPorts: [{ protocol: 'tcp', port: 9552 }] },
);
const section = (text: string, start: string) => {
  const from = text.indexOf(start);
  return text.slice(from, text.indexOf('\n\t}', from));
};

describe('nftables: spreading, refusing and the pod’s own ports', () => {
  const text = renderNftables(RULESET);

  it('keeps a rule with one address in the redirects map', () => {
    expect(section(text, 'map redirects')).toContain('\t\t\ttcp . 80 : 203.0.113.25 . 80,\n\t\t\tsctp . 9 : 203.0.113.26 . 9\n');
  });

  it('sends a rule with several addresses to a chain of its own that picks one at random, evenly', () => {
    expect(section(text, 'map verdicts')).toContain('tcp . 5432 : goto rule_tcp_5432');
    expect(section(text, 'chain rule_tcp_5432')).toContain(
      'meta l4proto tcp dnat ip to numgen random mod 3 map { 0 : 203.0.113.25 . 5432, 1 : 203.0.113.26 . 5432, 2 : 203.0.113.27 . 5432 }',
    );
    expect(section(text, 'map redirects')).not.toContain('5432');
  });

  it('lets a rule without an address and a local port through to the pod, before the fallback can take them', () => {
    const verdicts = section(text, 'map verdicts');
    expect(verdicts).toContain('udp . 53 : accept');
    expect(verdicts).toContain('tcp . 9552 : accept');
    const prerouting = section(text, 'chain prerouting');
    expect(prerouting.indexOf('vmap @verdicts')).toBeLessThan(prerouting.indexOf('goto fallback'));
    expect(text).not.toContain('chain rule_udp_53');
  });

  it('spreads a fallback with several addresses, and leaves the fallback chain empty without one', () => {
    expect(section(text, 'chain fallback')).toContain(
      'counter name fallback_connections dnat ip to numgen random mod 2 map { 0 : 203.0.113.27, 1 : 203.0.113.28 }',
    );
    for (const fallback of [undefined, { targets: [] }]) {
      const chain = section(renderNftables({ ...RULESET, fallback }), 'chain fallback');
      expect(chain).toBe('chain fallback {');
    }
  });

  it('counts new connections per map element, and packets and bytes per rule and direction by original port', () => {
    expect(section(text, 'map redirects')).toContain('\t\tcounter\n');
    expect(section(text, 'map verdicts')).toContain('\t\tcounter\n');
    expect(section(text, 'set out_tcp')).toContain('type inet_service\n\t\tcounter\n\t\telements = {\n\t\t\t80,\n\t\t\t5432\n');
    expect(section(text, 'set in_udp')).toContain('53');
    const forward = section(text, 'chain forward').split('\n').slice(2);
    expect(forward).toEqual([
      '\t\tiifname "eth0" oifname "macvlan0" ct status dnat meta l4proto tcp ct original proto-dst @out_tcp accept',
      '\t\tiifname "eth0" oifname "macvlan0" ct status dnat meta l4proto udp ct original proto-dst @out_udp accept',
      '\t\tiifname "eth0" oifname "macvlan0" ct status dnat meta l4proto sctp ct original proto-dst @out_sctp accept',
      '\t\tiifname "macvlan0" oifname "eth0" ct status dnat meta l4proto tcp ct original proto-dst @in_tcp accept',
      '\t\tiifname "macvlan0" oifname "eth0" ct status dnat meta l4proto udp ct original proto-dst @in_udp accept',
      '\t\tiifname "macvlan0" oifname "eth0" ct status dnat meta l4proto sctp ct original proto-dst @in_sctp accept',
      '\t\tiifname "eth0" oifname "macvlan0" ct status dnat counter name fallback_out accept',
      '\t\tiifname "macvlan0" oifname "eth0" ct status dnat counter name fallback_in accept',
      '\t\tcounter name forward_dropped drop',
    ]);
  });

  it('without per-rule counters: no counter flags, no traffic sets, plain forwarding', () => {
    const quiet = renderNftables({ ...RULESET, perRuleCounters: false });
    expect(quiet).not.toMatch(/^\t\tcounter$/m);
    expect(quiet).not.toMatch(/set (out|in)_/);
    expect(section(quiet, 'chain forward')).toContain('iifname "eth0" oifname "macvlan0" ct status dnat accept');
    expect(quiet).toContain('counter name fallback_connections dnat');
  });

  it('refuses new TCP, UDP and SCTP from the LAN to the pod itself, and lets replies, ICMP and VRRP in', () => {
    expect(section(text, 'chain input').split('\n').slice(1)).toEqual([
      '\t\ttype filter hook input priority filter; policy accept;',
      '\t\tiifname "macvlan0" ct state established,related accept',
      '\t\tiifname "macvlan0" meta l4proto tcp reject with tcp reset',
      '\t\tiifname "macvlan0" meta l4proto { udp, sctp } reject',
    ]);
  });

  it('leaves VRRP adverts their own source, and translates everything else leaving the egress interface', () => {
    expect(section(text, 'chain postrouting').split('\n').slice(2)).toEqual([
      '\t\toifname "macvlan0" meta l4proto 112 accept',
      '\t\toifname "macvlan0" snat ip to 192.168.12.99',
    ]);
  });

  it('spreads IPv6 with the ip6 family', () => {
    const six = renderNftables(
      ruleset([rule('tcp', 443, ['2001:db8::25', '2001:db8::26'])], { family: 6, source: v6('2001:db8::99'), fallback: { targets: [v6('2001:db8::27'), v6('2001:db8::28')] } }),
    );
    expect(six).toContain('meta l4proto tcp dnat ip6 to numgen random mod 2 map { 0 : 2001:db8::25 . 443, 1 : 2001:db8::26 . 443 }');
    expect(six).toContain('dnat ip6 to numgen random mod 2 map { 0 : 2001:db8::27, 1 : 2001:db8::28 }');
  });
});

describe('iptables: the same meaning in rules', () => {
  const wanted = wantedSnapshot(RULESET);

  it('spreads with statistic rules as kube-proxy does, refuses with RETURN, exempts local ports first, and falls back last', () => {
    expect(wanted.nat.chains.get('EGRESS-ROUTER-PREROUTING')).toEqual([
      '! -i eth0 -j RETURN',
      '-m addrtype ! --dst-type LOCAL -j RETURN',
      '-p tcp -m tcp --dport 9552 -j RETURN',
      '-p tcp -m tcp --dport 80 -j DNAT --to-destination 203.0.113.25:80',
      '-p tcp -m tcp --dport 5432 -m statistic --mode random --probability 0.3333333333 -j DNAT --to-destination 203.0.113.25:5432',
      '-p tcp -m tcp --dport 5432 -m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 203.0.113.26:5432',
      '-p tcp -m tcp --dport 5432 -j DNAT --to-destination 203.0.113.27:5432',
      '-p udp -m udp --dport 53 -j RETURN',
      '-p sctp -m sctp --dport 9 -j DNAT --to-destination 203.0.113.26:9',
      '-m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 203.0.113.27',
      '-j DNAT --to-destination 203.0.113.28',
    ]);
  });

  it('refuses new connections from the LAN to the pod in a chain of its own, reached from INPUT', () => {
    expect(wanted.filter.chains.get('EGRESS-ROUTER-INPUT')).toEqual([
      '! -i macvlan0 -j RETURN',
      '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
      '-p tcp -j REJECT --reject-with tcp-reset',
      '-p udp -j REJECT --reject-with icmp-port-unreachable',
      '-p sctp -j REJECT --reject-with icmp-port-unreachable',
    ]);
    expect(wanted.filter.jumps).toContainEqual({ from: 'INPUT', spec: '-j EGRESS-ROUTER-INPUT' });
    const six = wantedSnapshot(ruleset([], { family: 6, source: v6('2001:db8::99') }));
    expect(six.filter.chains.get('EGRESS-ROUTER-INPUT')).toContain('-p udp -j REJECT --reject-with icmp6-port-unreachable');
  });

  it('exempts VRRP from the source translation', () => {
    expect(wanted.nat.chains.get('EGRESS-ROUTER-POSTROUTING')).toEqual(['-o macvlan0 -p 112 -j RETURN', '-o macvlan0 -j SNAT --to-source 192.168.12.99']);
  });
});
