/** Which unanswered connection attempts to forget when a rule drops an address. */
import { describe, expect, it } from 'vitest';
import type { IpAddress } from '../../src/config/address.js';
import { droppedTargets, forgetAttemptsCommand } from '../../src/firewall/stale-attempts.js';
import type { RedirectEntry, Ruleset } from '../../src/firewall/ruleset.js';

const a = (text: string): IpAddress => ({ family: 4, text });
const rule = (protocol: RedirectEntry['protocol'], port: number, ...targets: string[]): RedirectEntry => ({ protocol, port, targetPort: 80, targets: targets.map(a) });
const ruleset = (...redirects: RedirectEntry[]): Ruleset => ({
  family: 4,
  clusterInterface: 'eth0',
  egressInterface: 'macvlan0',
  source: a('192.168.12.99'),
  redirects,
  localPorts: [],
  perRuleCounters: true,
  logDrops: false,
});

describe('droppedTargets', () => {
  it('names each address a TCP rule no longer uses, and nothing for the addresses it keeps', () => {
    const before = ruleset(rule('tcp', 80, '203.0.113.25', '203.0.113.26'), rule('tcp', 81, '203.0.113.27'));
    const after = ruleset(rule('tcp', 80, '203.0.113.26'), rule('tcp', 81, '203.0.113.27'));
    expect(droppedTargets(before, after)).toEqual([{ protocol: 'tcp', port: 80, address: a('203.0.113.25') }]);
  });

  it('names every address of a removed rule, and leaves UDP and SCTP alone', () => {
    const before = ruleset(rule('tcp', 80, '203.0.113.25'), rule('udp', 53, '203.0.113.26'));
    expect(droppedTargets(before, ruleset())).toEqual([{ protocol: 'tcp', port: 80, address: a('203.0.113.25') }]);
  });

  it('names nothing on the first apply', () => {
    expect(droppedTargets(undefined, ruleset(rule('tcp', 80, '203.0.113.25')))).toEqual([]);
  });
});

describe('forgetAttemptsCommand', () => {
  it('deletes only the attempts that never got an answer, translated to that address for that port', () => {
    expect(forgetAttemptsCommand({ protocol: 'tcp', port: 80, address: a('203.0.113.25') }, 4)).toEqual([
      'conntrack', '-D', '-f', 'ipv4', '-p', 'tcp', '--orig-port-dst', '80', '--reply-src', '203.0.113.25', '--state', 'SYN_SENT',
    ]);
  });
});
