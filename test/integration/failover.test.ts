/**
 * Failover between replicas (issue 12): keepalived elects one holder of EGRESS_SOURCE on the LAN,
 * the Service sends clients to it alone, and when it dies or loses its link another replica takes
 * over; a new connection through the Service succeeds within 3 s.
 *
 * Every replica is the built router (`node dist/egress-router.js`) in legacy mode with
 * EGRESS_ROUTER_VRRP_ID set, as examples/deployment-failover.yaml runs it: its own firewall lets
 * VRRP in and out unchanged, it starts keepalived, and its /readyz decides the Service's
 * endpoints. See test/support/failover-topology.ts for the model.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { advertSourceFor } from '../../src/failover/advert-source.js';
import { failoverReadiness } from '../../src/failover/role.js';
import { DEFAULT_ADVERT_INTERVAL_MS } from '../../src/failover/settings.js';
import { describeIntegration } from '../support/integration.js';
import { FailoverTopology, type Replica, monotonicNs, msBetween, running } from '../support/failover-topology.js';
import { handovers, longestDoubleHolding } from '../support/holders.js';
import { metricValue } from '../support/http.js';
import { ROOT } from '../support/topology.js';

/** The target: a new connection through the Service within 3 s of the holder's end. */
const TARGET_MS = 3000;
const FAILOVER_TOOLS = ['keepalived', 'setpriv', 'tcpdump', 'curl'];
/** Loaded with `node --import`: SIGUSR2 then crashes the router with an uncaught exception. */
const CRASH_ON_SIGUSR2 = `${ROOT}/test/fixtures/crash-on-sigusr2.mjs`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What /readyz says on a replica that is not the holder, by role (src/failover/role.ts). */
const notReadyBecause = (role: 'BACKUP' | 'FAULT' | 'STOP'): string => {
  const readiness = failoverReadiness(role);
  return readiness.ready ? '' : readiness.reason;
};

/**
 * The processes of `pids` still running after a while: keepalived's VRRP process takes about a
 * second to finish once told to stop (it sends its priority-0 advertisement first).
 */
async function stillRunning(pids: number[], withinMs = 3000): Promise<number[]> {
  const deadline = performance.now() + withinMs;
  while (pids.some(running) && performance.now() < deadline) await sleep(100);
  return pids.filter(running);
}

type Service = Awaited<ReturnType<FailoverTopology['startService']>>;

/** Starts the replicas of `topology` one after the other, and the Service; waits for the elected holder. */
async function electHolder(topology: FailoverTopology, options: Parameters<FailoverTopology['startReplica']>[1] = {}): Promise<{ replicas: Replica[]; service: Service; holder: number }> {
  const replicas: Replica[] = [];
  for (let i = 0; i < topology.replicas; i++) replicas.push(await topology.startReplica(i, options));
  const service = await topology.startService();
  await Promise.race(replicas.map((r) => r.waitForRole('MASTER')));
  const holder = replicas.find((r) => r.role === 'MASTER')!.index;
  await service.waitFor([topology.addresses.pod(holder)]);
  return { replicas, service, holder };
}

describeIntegration('failover between two replicas of the router (VRRP through keepalived)', () => {
  let topology: FailoverTopology;
  let replicas: Replica[];
  let service: Service;

  beforeEach(async () => {
    topology = await FailoverTopology.create(2);
  });
  afterEach(async () => topology.destroy());

  /** Starts both replicas and the Service; returns [holder, other] once the Service has the holder. */
  async function elected(options: Parameters<FailoverTopology['startReplica']>[1] = {}): Promise<[number, number]> {
    const started = await electHolder(topology, options);
    replicas = started.replicas;
    service = started.service;
    return [started.holder, 1 - started.holder];
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

  it('elects exactly one holder, which alone is ready, answers ARP for the source, advertises from its own link-local address and serves the Service', async () => {
    const [holder, other] = await elected();
    // Several advertisement intervals later, still one holder, the other a backup.
    await sleep(10 * DEFAULT_ADVERT_INTERVAL_MS);
    expect(await topology.holders()).toEqual([holder]);
    expect(replicas[other]!.role).toBe('BACKUP');
    // One log line per role change, on stdout, with the role it left and (the holder) the address.
    expect(replicas[holder]!.roles.map((r) => `${r.previous}->${r.role}`)).toEqual(['INIT->BACKUP', 'BACKUP->MASTER']);
    expect(replicas[holder]!.log).toContain(`"holds":"${topology.addresses.sourceCidr}","msg":"VRRP role MASTER"`);
    expect(replicas[other]!.roles.map((r) => `${r.previous}->${r.role}`)).toEqual(['INIT->BACKUP']);
    expect(replicas[other]!.log).toMatch(/"vrrpRole":"BACKUP","msg":"egress router ready"/);
    expect(await topology.readyz(holder)).toMatchObject({ status: 200 });
    const backup = await topology.readyz(other);
    expect(backup.status).toBe(503);
    expect(backup.body).toContain(notReadyBecause('BACKUP'));
    expect(service.endpoints()).toEqual([topology.addresses.pod(holder)]);
    expect(await topology.lanNeighbour()).toBe(await topology.mac(holder));
    // The router's SNAT leaves VRRP alone: the holder's adverts keep its link-local source.
    const sources = await topology.advertisementSources();
    expect(sources).toHaveLength(3);
    expect(new Set(sources)).toEqual(new Set([advertSourceFor(await topology.mac(holder))!.text]));
    const client = await topology.client(3000);
    client.go();
    expect(await client.result).toMatchObject({ ok: true, reply: topology.addresses.reply });
    for (const replica of replicas) expect(replica.keepalivedPids().filter(running)).toHaveLength(2);
  });

  it('the other replica takes over within 3 s when the holder\'s router is killed (SIGKILL), and no keepalived is left behind', async () => {
    const [holder, other] = await elected();
    const pids = replicas[holder]!.keepalivedPids();
    expect(pids.filter(running)).toHaveLength(2);
    const watch = await topology.watchAddress();
    const ms = await failover(() => void replicas[holder]!.child.kill('SIGKILL'));
    console.log(`failover after SIGKILL of the holder's router: Service back after ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThanOrEqual(TARGET_MS);
    const holdings = await watch.stop();
    expect(longestDoubleHolding(holdings)).toBeLessThanOrEqual(DEFAULT_ADVERT_INTERVAL_MS);
    expect(await topology.holders()).toEqual([other]);
    expect(replicas[other]!.role).toBe('MASTER');
    expect(await topology.readyz(other)).toMatchObject({ status: 200 });
    expect(service.endpoints()).toEqual([topology.addresses.pod(other)]);
    expect(await topology.lanNeighbour()).toBe(await topology.mac(other));
    expect(await stillRunning(pids), 'keepalived processes of the killed router').toEqual([]);
  });

  it('when the holder\'s container dies whole (keepalived too, no clean-up), the other takes over within 3 s, the dead copy of the address lapses within its 3 s lease, and the restarted router stays a backup', async () => {
    const [holder, other] = await elected();
    expect(replicas[holder]!.keepalivedPids().filter(running)).toHaveLength(2);
    // The lease starts once the holder has held the address for a second (src/failover/supervisor.ts).
    await sleep(1500);
    const killed = performance.now();
    const ms = await failover(() => replicas[holder]!.killContainer());
    console.log(`failover after the holder's container died: Service back after ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThanOrEqual(TARGET_MS);
    expect(replicas[other]!.role).toBe('MASTER');
    expect(await topology.lanNeighbour()).toBe(await topology.mac(other));
    // Nothing ran to delete it, but the holder kept the address on a lease it no longer renews.
    while ((await topology.holders()).includes(holder)) {
      if (performance.now() - killed > 4500) throw new Error('the dead replica still holds the address 4.5 s after its container died');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log(`the dead replica's copy of the address lapsed ${Math.round(performance.now() - killed)} ms after its container died`);
    expect(await topology.holders()).toEqual([other]);
    replicas[holder] = await topology.startReplica(holder);
    expect(replicas[holder]!.roles.map((r) => r.role)).not.toContain('MASTER');
    expect(replicas[holder]!.role).toBe('BACKUP');
    expect(await topology.holders()).toEqual([other]);
    expect((await topology.readyz(holder)).status).toBe(503);
    expect(service.endpoints()).toEqual([topology.addresses.pod(other)]);
  });

  it('a holder whose router crashes (an uncaught exception) releases the address as it exits, and keepalived ends with it', async () => {
    const [holder, other] = await elected({ node: ['--import', CRASH_ON_SIGUSR2] });
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

  it('when keepalived dies on its own, the router turns not ready at once and starts keepalived again after 0.5 s, as a backup', async () => {
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
    expect((await topology.readyz(holder)).body).toContain(notReadyBecause('BACKUP'));
    const metrics = await topology.metrics(holder);
    expect(metricValue(metrics, 'egress_router_failover_keepalived_restarts_total')).toBe(1);
    expect(metricValue(metrics, 'egress_router_failover_role{role="backup"}')).toBe(1);
    expect(metricValue(metrics, 'egress_router_ready')).toBe(0);
  });

  it('a holder whose link goes down gives up the address and its readiness; the other takes over within 3 s and keeps the address when the link comes back', async () => {
    const [holder, other] = await elected();
    const watch = await topology.watchAddress();
    const ms = await failover(() => topology.setLink(holder, false));
    console.log(`failover after the holder's link went down: Service back after ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThanOrEqual(TARGET_MS);
    expect(replicas[holder]!.role).toBe('FAULT');
    const cutOff = await topology.readyz(holder);
    expect(cutOff.status).toBe(503);
    expect(cutOff.body).toContain(notReadyBecause('FAULT'));
    expect(service.endpoints()).toEqual([topology.addresses.pod(other)]);
    expect(await topology.holders()).toEqual([other]);
    expect(await topology.lanNeighbour()).toBe(await topology.mac(other));

    // Back on the LAN it stands by; the holder keeps the address.
    const back = monotonicNs();
    await topology.setLink(holder, true);
    await replicas[holder]!.waitForRole('BACKUP', 5000, back);
    await sleep(10 * DEFAULT_ADVERT_INTERVAL_MS);
    const holdings = await watch.stop();
    expect(longestDoubleHolding(holdings)).toBeLessThanOrEqual(DEFAULT_ADVERT_INTERVAL_MS);
    expect(handovers(holdings), 'the address moved once, and did not come back').toBe(1);
    expect(await topology.holders()).toEqual([other]);
    expect(service.endpoints()).toEqual([topology.addresses.pod(other)]);
  });

  it('a restarted replica does not take the address back from a healthy holder', async () => {
    const [first, second] = await elected();
    replicas[first]!.child.kill('SIGKILL');
    await replicas[second]!.waitForRole('MASTER');
    await service.waitFor([topology.addresses.pod(second)]);

    const watch = await topology.watchAddress();
    replicas[first] = await topology.startReplica(first);
    await sleep(10 * DEFAULT_ADVERT_INTERVAL_MS);
    const holdings = await watch.stop();
    expect(handovers(holdings), 'the address stayed where it was').toBe(0);
    expect(holdings[second]).toHaveLength(1);
    // Never MASTER; keepalived may pass through FAULT for a moment while it starts on a busy machine.
    expect(replicas[first]!.roles.map((r) => r.role)).not.toContain('MASTER');
    expect(replicas[first]!.role).toBe('BACKUP');
    expect(replicas[second]!.role).toBe('MASTER');
    expect(service.endpoints()).toEqual([topology.addresses.pod(second)]);
  });

  it('stopping the holder (SIGTERM) turns it not ready at once, releases the address before the router exits 0, and the other takes over at once', async () => {
    const [holder, other] = await elected();
    const watch = await topology.watchAddress();
    const stopping = monotonicNs();
    replicas[holder]!.child.kill('SIGTERM');
    // keepalived takes about a second to exit after handing over; the router is not ready meanwhile.
    await replicas[holder]!.waitForLog('"msg":"stopping keepalived');
    const leaving = await topology.readyz(holder);
    expect(leaving.status).toBe(503);
    expect(leaving.body).toContain(notReadyBecause('STOP'));
    const result = await replicas[holder]!.child;
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    expect(await topology.holders()).not.toContain(holder);
    expect(replicas[holder]!.role).toBe('STOP');
    const takeover = await replicas[other]!.waitForRole('MASTER', 5000, stopping);
    // A priority-0 advertisement: no waiting for three missed advertisements.
    console.log(`takeover after SIGTERM of the holder: ${msBetween(stopping, takeover).toFixed(0)} ms; the router exited after ${msBetween(stopping, monotonicNs()).toFixed(0)} ms or less`);
    expect(msBetween(stopping, takeover)).toBeLessThan(3 * DEFAULT_ADVERT_INTERVAL_MS);
    const holdings = await watch.stop();
    expect(longestDoubleHolding(holdings)).toBe(0);
    expect(await topology.holders()).toEqual([other]);
  });
}, FAILOVER_TOOLS);

describeIntegration('failover with the iptables backend', () => {
  it('elects one holder whose advertisements keep their link-local source, and moves the address within 3 s when it is killed', async () => {
    const topology = await FailoverTopology.create(2);
    try {
      const { replicas, service, holder } = await electHolder(topology, { env: { EGRESS_ROUTER_FIREWALL: 'iptables' } });
      const other = 1 - holder;
      expect(await topology.exec(topology.ns.pods[holder]!, ['iptables-save', '-t', 'nat'])).toMatch(/-o macvlan0 -p (vrrp|112) -j RETURN/);
      const sources = await topology.advertisementSources();
      expect(new Set(sources)).toEqual(new Set([advertSourceFor(await topology.mac(holder))!.text]));
      expect(await topology.holders()).toEqual([holder]);
      expect(replicas[other]!.role).toBe('BACKUP');
      const client = await topology.client();
      const killed = monotonicNs();
      replicas[holder]!.child.kill('SIGKILL');
      client.go();
      const result = await client.result;
      expect(result).toMatchObject({ ok: true, reply: topology.addresses.reply });
      expect(msBetween(killed, BigInt(result.at!))).toBeLessThanOrEqual(TARGET_MS);
      expect(await topology.holders()).toEqual([other]);
      expect(service.endpoints()).toEqual([topology.addresses.pod(other)]);
    } finally {
      await topology.destroy();
    }
  });
}, FAILOVER_TOOLS);

describeIntegration('failover among three replicas', () => {
  it('elects exactly one holder, and one of the two others holds the address (and the LAN\'s ARP entry) after it is killed', async () => {
    const topology = await FailoverTopology.create(3);
    try {
      const { replicas, service, holder } = await electHolder(topology);
      await sleep(10 * DEFAULT_ADVERT_INTERVAL_MS);
      expect(await topology.holders()).toEqual([holder]);
      expect(replicas.filter((r) => r.index !== holder).map((r) => r.role)).toEqual(['BACKUP', 'BACKUP']);
      const watch = await topology.watchAddress();
      const killed = monotonicNs();
      replicas[holder]!.child.kill('SIGKILL');
      const others = replicas.filter((r) => r.index !== holder);
      await Promise.race(others.map((r) => r.waitForRole('MASTER', 5000, killed)));
      await sleep(10 * DEFAULT_ADVERT_INTERVAL_MS);
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
    const topology = await FailoverTopology.create(2, 6);
    try {
      const { replicas, holder } = await electHolder(topology);
      const other = 1 - holder;
      expect(await topology.holders()).toEqual([holder]);
      expect((await topology.readyz(other)).body).toContain(notReadyBecause('BACKUP'));
      expect(await topology.lanNeighbour()).toBe(await topology.mac(holder));
      const sources = await topology.advertisementSources();
      expect(sources.length).toBeGreaterThan(0);
      for (const source of sources) expect(source.startsWith('fe80:')).toBe(true);
      const watch = await topology.watchAddress();
      const client = await topology.client();
      const killed = monotonicNs();
      replicas[holder]!.child.kill('SIGKILL');
      client.go();
      const result = await client.result;
      expect(result).toMatchObject({ ok: true, reply: topology.addresses.reply });
      const ms = msBetween(killed, BigInt(result.at!));
      console.log(`IPv6 failover after SIGKILL of the holder's router: Service back after ${ms.toFixed(0)} ms`);
      expect(ms).toBeLessThanOrEqual(TARGET_MS);
      expect(longestDoubleHolding(await watch.stop())).toBeLessThanOrEqual(DEFAULT_ADVERT_INTERVAL_MS);
      expect(await topology.holders()).toEqual([other]);
      expect(await topology.lanNeighbour()).toBe(await topology.mac(other));
    } finally {
      await topology.destroy();
    }
  });
}, FAILOVER_TOOLS);
