/** Announcing the source address: gratuitous ARP for IPv4, an unsolicited neighbour advertisement for IPv6. */
import { describe, expect, it } from 'vitest';
import { NEIGHBOUR_ADVERTISEMENT_SCRIPT, planAnnouncements, planReannouncements } from '../../src/plan/announce.js';
import { renderDryRun } from '../../src/system/apply.js';
import { config, config6, freshPod, plan, problems } from '../support/pod-state.js';

const EGRESS = freshPod().egress;

describe('IPv4', () => {
  it('sends a gratuitous ARP reply and request, and repeats the request in legacy mode', () => {
    const base = ['-c', '1', '-I', 'macvlan0', '192.168.12.99'];
    expect(planAnnouncements(config(), EGRESS)).toEqual([['arping', '-A', ...base], ['arping', '-U', ...base]]);
    expect(planReannouncements(config(), EGRESS)).toEqual([['arping', '-U', ...base]]);
  });
});

describe('IPv6', () => {
  const advertisement = ['perl', '-e', NEIGHBOUR_ADVERTISEMENT_SCRIPT, '3', '2001:db8:12::99', 'ce:f0:44:ba:16:16'];

  it('sends one unsolicited neighbour advertisement on the egress interface, by index, with its MAC address', () => {
    expect(planAnnouncements(config6(), EGRESS)).toEqual([advertisement]);
    expect(plan(config6(), freshPod()).announce).toEqual([advertisement]);
  });

  it('repeats the advertisement in legacy mode', () => {
    expect(planReannouncements(config6({ EGRESS_ROUTER_MODE: 'legacy' }), EGRESS)).toEqual([advertisement]);
  });

  it('advertises to all nodes with the override flag and the target link-layer address, hop limit 255', () => {
    // The parts of the message RFC 4861 7.2.6 asks for; the wire format is checked by tcpdump in
    // test/integration/neighbour-advertisement.test.ts.
    expect(NEIGHBOUR_ADVERTISEMENT_SCRIPT).toContain('pack("CCnNa16CCa6", 136, 0, 0, 0x20000000, $target, 2, 1,');
    expect(NEIGHBOUR_ADVERTISEMENT_SCRIPT).toContain('IPV6_MULTICAST_HOPS, pack("i", 255)');
    expect(NEIGHBOUR_ADVERTISEMENT_SCRIPT).toContain('inet_pton(AF_INET6, "ff02::1"), $index)');
    expect(NEIGHBOUR_ADVERTISEMENT_SCRIPT).not.toContain('#');
  });

  it('sends nothing when the probe could not tell the interface’s index or MAC address', () => {
    expect(planAnnouncements(config6(), { ...EGRESS!, index: undefined })).toEqual([]);
    expect(planAnnouncements(config6(), { ...EGRESS!, mac: '' })).toEqual([]);
    expect(planAnnouncements(config6(), { ...EGRESS!, mac: '00:00:00:00:00:00:00:00' })).toEqual([]);
    expect(planAnnouncements(config6(), undefined)).toEqual([]);
  });

  it('needs perl and CAP_NET_RAW, and names them when they are missing', () => {
    expect(problems(config6(), freshPod({ tools: { ip: true, nft: true }, capabilities: { netAdmin: true, netRaw: false } }))).toEqual([
      'command perl: not found on PATH; install it in the image',
      'capability CAP_NET_RAW: missing; it is needed to send unsolicited neighbour advertisements (securityContext.capabilities.add: [NET_RAW])',
    ]);
  });

  it('prints the advertisement in a dry run as a command that can be pasted into a shell', () => {
    const text = renderDryRun(plan(config6(), freshPod()));
    expect(text).toContain("# unsolicited neighbour advertisement, not waited for\nperl -e 'use Socket qw(:all);");
    expect(text).toContain("' 3 2001:db8:12::99 ce:f0:44:ba:16:16 &\n");
  });
});
