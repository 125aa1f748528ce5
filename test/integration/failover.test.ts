/**
 * Failover between replicas (issue 12): keepalived elects one holder of EGRESS_SOURCE on the LAN,
 * the Service sends clients to it alone, and when it dies or loses its link another replica takes
 * over; a new connection through the Service succeeds within 3 s.
 *
 * The replicas run test/fixtures/failover-node.ts (startFailover, as the router will), in pods the
 * built router configured; see test/support/failover-topology.ts for the model.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DEFAULT_ADVERT_INTERVAL_MS } from '../../src/failover/settings.js';
import { describeIntegration } from '../support/integration.js';
import { FailoverTopology, type Replica, STATUS_PORT, monotonicNs, msBetween, running } from '../support/failover-topology.js';
import { handovers, longestDoubleHolding } from '../support/holders.js';

/** The target: a new connection through the Service within 3 s of the holder's end. */
const TARGET_MS = 3000;
const FAILOVER_TOOLS = ['keepalived', 'setpriv'];

/**
 * The processes of `pids` still running after a while: keepalived's VRRP process takes about a
 * second to finish once told to stop (it sends its priority-0 advertisement first).
 */
async function stillRunning(pids: number[], withinMs = 3000): Promise<number[]> {
  const deadline = performance.now() + withinMs;
  while (pids.some(running) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return pids.filter(running);
}

describeIntegration('failover between two replicas (VRRP through keepalived)', () => {
  let topology: FailoverTopology;
  let replicas: Replica[];
  let service: Awaited<ReturnType<FailoverTopology['startService']>>;

  beforeEach(async () => {
    topology = await FailoverTopology.create(2);
    await topology.configure(0);
    await topology.configure(1);
    replicas = [await topology.startReplica(0), await topology.startReplica(1)];
    service = await topology.startService();
  });
  afterEach(async () => topology.destroy());

  /** Waits for the election; returns [holder, other]. */
  async function elected(): Promise<[number, number]> {
    await Promise.race(replicas.map((r) => r.waitForRole('MASTER')));
    const holder = replicas.find((r) => r.role === 'MASTER')!.index;
    await service.waitFor([topology.addresses.pod(holder)]);
    return [holder, 1 - holder];
  }

  /** Ends the holder with `end`, and measures until a new connection through the Service succeeds. */
  async function failover(end: () => Promise<void> | void): Promise<number> {
    const client = await topology.client();
    const started = monotonicNs();
    await end();
    client.go();
    const result = await client.result;
    expect(result, 'a new connection through the Service after the failover').toMatchObject({ ok: true, reply: topology.addresses.reply });
    return msBetween(started, BigInt(result.at!));
  }

  it('elects exactly one holder, which alone is ready, answers ARP for the source and serves the Service', async () => {
    const [holder, other] = await elected();
    // Several advertisement intervals later, still one holder, the other a backup.
    await new Promise((resolve) => setTimeout(resolve, 10 * DEFAULT_ADVERT_INTERVAL_MS));
    expect(await topology.holders()).toEqual([holder]);
    expect(replicas[other]!.role).toBe('BACKUP');
    expect(service.endpoints()).toEqual([topology.addresses.pod(holder)]);
    expect(await topology.lanNeighbour()).toBe(await topology.mac(holder));
    const client = await topology.client(3000);
    client.go();
    expect(await client.result).toMatchObject({ ok: true, reply: topology.addresses.reply });
    for (const replica of replicas) expect(replica.keepalivedPids().filter(running)).toHaveLength(2);
  });

  it('the other replica takes over within 3 s when the holder\'s process is killed, and no keepalived is left behind', async () => {
    const [holder, other] = await elected();
    const pids = replicas[holder]!.keepalivedPids();
    expect(pids.filter(running)).toHaveLength(2);
    const watch = await topology.watchAddress();
    const ms = await failover(() => void replicas[holder]!.child.kill('SIGKILL'));
    console.log(`failover after SIGKILL of the holder: Service back after ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThanOrEqual(TARGET_MS);
    const holdings = await watch.stop();
    expect(longestDoubleHolding(holdings)).toBeLessThanOrEqual(DEFAULT_ADVERT_INTERVAL_MS);
    expect(await topology.holders()).toEqual([other]);
    expect(replicas[other]!.role).toBe('MASTER');
    expect(service.endpoints()).toEqual([topology.addresses.pod(other)]);
    expect(await topology.lanNeighbour()).toBe(await topology.mac(other));
    expect(await stillRunning(pids), 'keepalived processes of the killed router').toEqual([]);
  });

  it('when the holder\'s container dies whole (keepalived too, no clean-up), the other takes over within 3 s, and the restarted replica first releases the address it left', async () => {
    const [holder, other] = await elected();
    expect(replicas[holder]!.keepalivedPids().filter(running)).toHaveLength(2);
    const ms = await failover(() => replicas[holder]!.killContainer());
    console.log(`failover after the holder's container died: Service back after ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThanOrEqual(TARGET_MS);
    expect(replicas[other]!.role).toBe('MASTER');
    expect(await topology.lanNeighbour()).toBe(await topology.mac(other));
    // Nothing ran to delete it: the dead replica's interface still has the address (README, "Failover").
    expect(await topology.holders()).toEqual([holder, other].sort());
    replicas[holder] = await topology.startReplica(holder);
    expect(replicas[holder]!.role).toBe('BACKUP');
    expect(await topology.holders()).toEqual([other]);
    expect(service.endpoints()).toEqual([topology.addresses.pod(other)]);
  });

  it('a holder whose router crashes (an uncaught exception) releases the address as it exits, and keepalived ends with it', async () => {
    const [holder, other] = await elected();
    const pids = replicas[holder]!.keepalivedPids();
    const crashed = monotonicNs();
    replicas[holder]!.child.kill('SIGUSR2');
    const result = await replicas[holder]!.child;
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('crashing on SIGUSR2');
    // Released synchronously at exit, before the process was gone.
    expect(await topology.holders()).not.toContain(holder);
    await replicas[other]!.waitForRole('MASTER', 5000, crashed);
    await service.waitFor([topology.addresses.pod(other)]);
    expect(await stillRunning(pids), 'keepalived processes of the crashed router').toEqual([]);
  });

  it('when keepalived dies on its own, the replica turns not ready at once and the supervisor starts keepalived again, as a backup', async () => {
    const [holder, other] = await elected();
    const [main] = replicas[holder]!.keepalivedPids();
    const killed = monotonicNs();
    process.kill(main!, 'SIGKILL');
    await replicas[holder]!.waitForRole('FAULT', 5000, killed);
    await replicas[other]!.waitForRole('MASTER', 5000, killed);
    const restarted = await replicas[holder]!.waitForRole('BACKUP', 5000, killed);
    expect(msBetween(killed, restarted), 'first restart after 0.5 s').toBeGreaterThanOrEqual(500);
    await service.waitFor([topology.addresses.pod(other)]);
    expect(await topology.holders()).toEqual([other]);
    expect(replicas[holder]!.keepalivedPids()).not.toContain(main);
    const metrics = await topology.exec(topology.ns.cluster, [process.execPath, '-e', `fetch('http://${topology.addresses.pod(holder)}:${STATUS_PORT}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`]);
    expect(metrics).toContain('egress_router_failover_keepalived_restarts_total 1');
    expect(metrics).toContain('egress_router_failover_role{role="backup"} 1');
  });

  it('a holder whose link goes down gives up the address and its readiness; the other takes over within 3 s', async () => {
    const [holder, other] = await elected();
    const watch = await topology.watchAddress();
    const ms = await failover(() => topology.setLink(holder, false));
    console.log(`failover after the holder's link went down: Service back after ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThanOrEqual(TARGET_MS);
    expect(replicas[holder]!.role).toBe('FAULT');
    expect(service.endpoints()).toEqual([topology.addresses.pod(other)]);
    expect(await topology.holders()).toEqual([other]);
    expect(await topology.lanNeighbour()).toBe(await topology.mac(other));

    // Back on the LAN it stands by; the holder keeps the address.
    const back = monotonicNs();
    await topology.setLink(holder, true);
    await replicas[holder]!.waitForRole('BACKUP', 5000, back);
    await new Promise((resolve) => setTimeout(resolve, 10 * DEFAULT_ADVERT_INTERVAL_MS));
    const holdings = await watch.stop();
    expect(longestDoubleHolding(holdings)).toBeLessThanOrEqual(DEFAULT_ADVERT_INTERVAL_MS);
    expect(handovers(holdings), 'the address moved once, and did not come back').toBe(1);
    expect(await topology.holders()).toEqual([other]);
    expect(service.endpoints()).toEqual([topology.addresses.pod(other)]);
  });

  it('a restarted replica does not take the address back from a healthy holder', async () => {
    const [first] = await elected();
    replicas[first]!.child.kill('SIGKILL');
    const second = 1 - first;
    await replicas[second]!.waitForRole('MASTER');
    await service.waitFor([topology.addresses.pod(second)]);

    const watch = await topology.watchAddress();
    replicas[first] = await topology.startReplica(first);
    await replicas[first]!.waitForRole('BACKUP');
    await new Promise((resolve) => setTimeout(resolve, 15 * DEFAULT_ADVERT_INTERVAL_MS));
    const holdings = await watch.stop();
    expect(handovers(holdings), 'the address stayed where it was').toBe(0);
    expect(holdings[second]).toHaveLength(1);
    expect(replicas[first]!.roles.map((r) => r.role)).toEqual(['BACKUP']);
    expect(replicas[second]!.role).toBe('MASTER');
    expect(service.endpoints()).toEqual([topology.addresses.pod(second)]);
  });

  it('stopping the holder (SIGTERM) releases the address before it exits, and the other takes over at once', async () => {
    const [holder, other] = await elected();
    const watch = await topology.watchAddress();
    const stopping = monotonicNs();
    replicas[holder]!.child.kill('SIGTERM');
    await replicas[holder]!.child;
    expect(await topology.holders()).not.toContain(holder);
    const takeover = await replicas[other]!.waitForRole('MASTER', 5000, stopping);
    // A priority-0 advertisement: no waiting for three missed advertisements.
    console.log(`takeover after SIGTERM of the holder: ${msBetween(stopping, takeover).toFixed(0)} ms`);
    expect(msBetween(stopping, takeover)).toBeLessThan(3 * DEFAULT_ADVERT_INTERVAL_MS);
    const holdings = await watch.stop();
    expect(longestDoubleHolding(holdings)).toBe(0);
    expect(await topology.holders()).toEqual([other]);
  });
}, FAILOVER_TOOLS);

/** Starts `count` replicas of a new topology and waits until the Service has the one holder. */
async function electedTopology(count: number, family: 4 | 6): Promise<{ topology: FailoverTopology; replicas: Replica[]; holder: number; service: Awaited<ReturnType<FailoverTopology['startService']>> }> {
  const topology = await FailoverTopology.create(count, family);
  try {
    const replicas: Replica[] = [];
    for (let i = 0; i < count; i++) await topology.configure(i);
    for (let i = 0; i < count; i++) replicas.push(await topology.startReplica(i));
    const service = await topology.startService();
    await Promise.race(replicas.map((r) => r.waitForRole('MASTER')));
    const holder = replicas.find((r) => r.role === 'MASTER')!.index;
    await service.waitFor([topology.addresses.pod(holder)]);
    return { topology, replicas, holder, service };
  } catch (error) {
    await topology.destroy();
    throw error;
  }
}

describeIntegration('failover among three replicas', () => {
  it('elects exactly one holder, and one of the two others holds the address (and the LAN\'s ARP entry) after it is killed', async () => {
    const { topology, replicas, holder, service } = await electedTopology(3, 4);
    try {
      await new Promise((resolve) => setTimeout(resolve, 10 * DEFAULT_ADVERT_INTERVAL_MS));
      expect(await topology.holders()).toEqual([holder]);
      expect(replicas.filter((r) => r.index !== holder).map((r) => r.role)).toEqual(['BACKUP', 'BACKUP']);
      const watch = await topology.watchAddress();
      const killed = monotonicNs();
      replicas[holder]!.child.kill('SIGKILL');
      const others = replicas.filter((r) => r.index !== holder);
      await Promise.race(others.map((r) => r.waitForRole('MASTER', 5000, killed)));
      await new Promise((resolve) => setTimeout(resolve, 10 * DEFAULT_ADVERT_INTERVAL_MS));
      const masters = others.filter((r) => r.role === 'MASTER').map((r) => r.index);
      expect(masters).toHaveLength(1);
      const next = masters[0]!;
      await service.waitFor([topology.addresses.pod(next)]);
      const holdings = await watch.stop();
      // Both backups hear the holder's priority-0 advertisement and, with equal priorities, may
      // both claim the address for one interval before the higher advertisement address wins.
      expect(longestDoubleHolding(holdings)).toBeLessThanOrEqual(DEFAULT_ADVERT_INTERVAL_MS);
      expect(handovers(holdings)).toBeLessThanOrEqual(2);
      expect(await topology.holders()).toEqual([next]);
      // ... and then the winner announces itself again, so the LAN ends up with the winner's MAC.
      expect(await topology.lanNeighbour()).toBe(await topology.mac(next));
      expect(replicas.filter((r) => r.index !== holder && r.index !== next).map((r) => r.role)).toEqual(['BACKUP']);
    } finally {
      await topology.destroy();
    }
  });
}, FAILOVER_TOOLS);

describeIntegration('failover over IPv6 (VRRPv3 from the fe80:: addresses, unsolicited neighbour advertisements)', () => {
  it('elects one holder and moves the address, the LAN\'s neighbour entry and the Service within 3 s when the holder is killed', async () => {
    const { topology, replicas, holder } = await electedTopology(2, 6);
    try {
      const other = 1 - holder;
      expect(await topology.holders()).toEqual([holder]);
      expect(await topology.lanNeighbour()).toBe(await topology.mac(holder));
      const watch = await topology.watchAddress();
      const client = await topology.client();
      const killed = monotonicNs();
      replicas[holder]!.child.kill('SIGKILL');
      client.go();
      const result = await client.result;
      expect(result).toMatchObject({ ok: true, reply: topology.addresses.reply });
      const ms = msBetween(killed, BigInt(result.at!));
      console.log(`IPv6 failover after SIGKILL of the holder: Service back after ${ms.toFixed(0)} ms`);
      expect(ms).toBeLessThanOrEqual(TARGET_MS);
      expect(longestDoubleHolding(await watch.stop())).toBeLessThanOrEqual(DEFAULT_ADVERT_INTERVAL_MS);
      expect(await topology.holders()).toEqual([other]);
      expect(await topology.lanNeighbour()).toBe(await topology.mac(other));
    } finally {
      await topology.destroy();
    }
  });
}, FAILOVER_TOOLS);
