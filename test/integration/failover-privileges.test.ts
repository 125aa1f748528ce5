/**
 * Failover needs nothing beyond what the router needs (issue 12): keepalived runs with only
 * CAP_NET_ADMIN and CAP_NET_RAW, no privilege escalation, a read-only /proc/sys and a read-only
 * root file system, writing only into its work directory (an emptyDir in the pod spec).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeIntegration } from '../support/integration.js';
import { FailoverTopology } from '../support/failover-topology.js';

/**
 * As a container runtime runs the documented pod spec: `capabilities: {drop: [ALL], add: caps}`
 * (setpriv, as in privileges.test.ts), no new privileges, `readOnlyRootFilesystem: true` and a
 * read-only /proc/sys (a private mount namespace), and an emptyDir at the work directory (tmpfs).
 */
function podSpec(caps: string[]): (workDir: string) => string[] {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return (workDir) => [
    'unshare', '--mount', 'sh', '-c',
    'mount -o remount,bind,ro / && mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && mount -t tmpfs -o mode=0700 tmpfs "$0" && exec "$@"',
    workDir,
    'setpriv', '--inh-caps=-all', '--ambient-caps=-all', `--bounding-set=${set}`, '--no-new-privs',
  ];
}

describeIntegration('failover with least privilege', () => {
  let topology: FailoverTopology;
  beforeEach(async () => {
    topology = await FailoverTopology.create(2);
    await topology.configure(0);
    await topology.configure(1);
  });
  afterEach(async () => topology.destroy());

  it('elects a holder and fails over with only CAP_NET_ADMIN and CAP_NET_RAW, read-only root and /proc/sys, and a writable work directory', async () => {
    const wrap = podSpec(['net_admin', 'net_raw']);
    const replicas = [await topology.startReplica(0, { wrap }), await topology.startReplica(1, { wrap })];
    const service = await topology.startService();
    await Promise.race(replicas.map((r) => r.waitForRole('MASTER')));
    const holder = replicas.find((r) => r.role === 'MASTER')!.index;
    await service.waitFor([topology.addresses.pod(holder)]);
    expect(await topology.holders()).toEqual([holder]);
    replicas[holder]!.child.kill('SIGKILL');
    await replicas[1 - holder]!.waitForRole('MASTER');
    await service.waitFor([topology.addresses.pod(1 - holder)]);
    expect(await topology.holders()).toEqual([1 - holder]);
    expect(await topology.lanNeighbour()).toBe(await topology.mac(1 - holder));
  });

  it('refuses to start without CAP_NET_RAW, naming keepalived and the capability, and leaves no address behind', async () => {
    await expect(topology.startReplica(0, { wrap: podSpec(['net_admin']) })).rejects.toThrow(
      /exited \(2\).*keepalived: exited at start \(exit code \d+\) \(keepalived needs CAP_NET_ADMIN and CAP_NET_RAW\)/s,
    );
    // init mode put the address on both pods; the failed replica released its copy all the same.
    expect(await topology.holders()).toEqual([1]);
  });
}, ['keepalived', 'setpriv', 'unshare']);
