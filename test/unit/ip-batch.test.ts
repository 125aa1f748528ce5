/** Consecutive ip steps become one `ip -batch` process, and a failure still names its step. */
import { describe, expect, it } from 'vitest';
import { type RunStep, batchComplaint, batchGroups, failedBatchLine, ipBatch, isIpStep } from '../../src/plan/ip-batch.js';

const step = (label: string, argv: string[]): RunStep => ({ kind: 'run', label, argv });
const STEPS = [
  step('source address', ['ip', '-4', 'addr', 'replace', '192.168.12.99/24', 'dev', 'macvlan0']),
  step('link up', ['ip', 'link', 'set', 'macvlan0', 'up']),
  step('default route', ['ip', '-4', 'route', 'replace', 'default', 'via', '192.168.12.1', 'dev', 'macvlan0']),
];

describe('ip batches', () => {
  it('turn a plan’s ip steps into one batch with the family flag, one line per step', () => {
    expect(batchGroups(STEPS)).toEqual([STEPS]);
    expect(ipBatch(STEPS)).toEqual({
      argv: ['ip', '-4', '-batch', '-'],
      input: 'addr replace 192.168.12.99/24 dev macvlan0\nlink set macvlan0 up\nroute replace default via 192.168.12.1 dev macvlan0\n',
    });
  });

  it('never mix families in one batch', () => {
    const v6 = step('v6 rule', ['ip', '-6', 'rule', 'add', 'priority', '4552', 'iif', 'macvlan0', 'lookup', '4552']);
    expect(batchGroups([...STEPS, v6]).map((g) => g.length)).toEqual([3, 1]);
  });

  it('leave out commands that read their own input, and everything but ip', () => {
    expect(isIpStep(step('x', ['nft', '-f', '-']))).toBe(false);
    expect(isIpStep({ kind: 'run', label: 'x', argv: ['ip', '-batch', '-'], input: 'link set lo up\n' })).toBe(false);
    expect(isIpStep({ kind: 'sysctl', label: 'forwarding', key: 'net.ipv4.ip_forward', value: '1' })).toBe(false);
  });

  it('map ip’s failure report to the failed line and keep only its complaint', () => {
    const stderr = 'Error: Nexthop has invalid gateway.\nCommand failed -:3\n';
    expect(failedBatchLine(stderr)).toBe(2);
    expect(batchComplaint(stderr)).toBe('Error: Nexthop has invalid gateway.');
    expect(failedBatchLine('something else')).toBeUndefined();
  });
});
