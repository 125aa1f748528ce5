/**
 * Failover needs nothing beyond what the router needs (issue 12): the router, keepalived with it,
 * runs with only CAP_NET_ADMIN and CAP_NET_RAW, no privilege escalation, a read-only /proc/sys
 * and a read-only root file system, writing only into its work directory (an emptyDir in the pod
 * spec, examples/deployment-failover.yaml).
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
    // What the example's `securityContext.sysctls` sets: /proc/sys is read-only to the router.
    for (const pod of topology.ns.pods) await topology.exec(pod, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  });
  afterEach(async () => topology.destroy());

  it('elects a holder, serves, fails over and stops cleanly with only CAP_NET_ADMIN and CAP_NET_RAW, read-only root and /proc/sys, and a writable work directory', async () => {
    const wrap = podSpec(['net_admin', 'net_raw']);
    const replicas = [await topology.startReplica(0, { wrap }), await topology.startReplica(1, { wrap })];
    const service = await topology.startService();
    await Promise.race(replicas.map((r) => r.waitForRole('MASTER')));
    const holder = replicas.find((r) => r.role === 'MASTER')!.index;
    const other = 1 - holder;
    await service.waitFor([topology.addresses.pod(holder)]);
    expect(await topology.holders()).toEqual([holder]);
    expect((await topology.readyz(other)).status).toBe(503);
    const client = await topology.client(3000);
    client.go();
    expect(await client.result).toMatchObject({ ok: true, reply: topology.addresses.reply });

    replicas[holder]!.child.kill('SIGKILL');
    await replicas[other]!.waitForRole('MASTER');
    await service.waitFor([topology.addresses.pod(other)]);
    expect(await topology.holders()).toEqual([other]);
    expect(await topology.lanNeighbour()).toBe(await topology.mac(other));

    // Stopping releases the address under the same constraints, and nothing was refused on the way.
    replicas[other]!.child.kill('SIGTERM');
    const stopped = await replicas[other]!.child;
    expect(stopped.exitCode).toBe(0);
    expect(stopped.stderr).toBe('');
    expect(await topology.holders()).toEqual([]);
    for (const replica of replicas) expect(replica.log).not.toMatch(/"level":(40|50)/);
  });

  it('refuses to start without CAP_NET_RAW, naming keepalived and the capability, and changes nothing in the pod', async () => {
    const holder = await topology.startReplica(1);
    await holder.waitForRole('MASTER');
    const refused = topology.startReplica(0, { wrap: podSpec(['net_admin']) });
    await expect(refused).rejects.toThrow(/exited \(2\).*capability CAP_NET_RAW: missing; failover \(EGRESS_ROUTER_VRRP_ID\) needs it for keepalived's VRRP advertisements/s);
    expect(await topology.holders()).toEqual([1]);
    // The preflight check refused before the first change: no firewall, no advertisement address.
    expect(await topology.exec(topology.ns.pods[0]!, ['nft', 'list', 'tables'])).toBe('');
    expect(await topology.exec(topology.ns.pods[0]!, ['ip', '-4', 'addr', 'show', 'dev', 'macvlan0'])).toBe('');
  });
}, ['keepalived', 'setpriv', 'unshare', 'curl']);
