/**
 * The redirect-mode router end to end, in real namespaces with real traffic, on both backends.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeIntegration } from '../support/integration.js';
import { waitForOutput } from '../support/output.js';
import { SCENARIO } from '../support/scenario.js';
import { ADDRESSES, Topology, routerEnv } from '../support/topology.js';

const [D1, D2] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;
const { destinations: DESTINATIONS, servers: SERVERS } = SCENARIO;

for (const backend of ['nftables', 'iptables'] as const) {
  describeIntegration(`redirect mode with the ${backend} backend`, () => {
    let topology: Topology;
    beforeEach(async () => {
      topology = await Topology.create();
      await topology.startServers(topology.ns.lan, SERVERS);
    });
    afterEach(async () => topology.destroy());

    const env = (extra: Record<string, string> = {}) =>
      routerEnv({ EGRESS_DESTINATION: DESTINATIONS, EGRESS_ROUTER_FIREWALL: backend, ...extra });

    it('redirects TCP and UDP, honours remote ports and the fallback, and the destinations see EGRESS_SOURCE', async () => {
      const run = await topology.runRouter(env());
      expect(run.stderr).toBe('');
      expect(run.exitCode).toBe(0);
      const results = await topology.probe(SCENARIO.targets);
      expect(results.map((r) => r.reply)).toEqual(SCENARIO.replies);
    });

    it('refuses unlisted ports when there is no fallback', async () => {
      const run = await topology.runRouter(env({ EGRESS_DESTINATION: `80 tcp ${D1}\n53 udp ${D2}` }));
      expect(run.exitCode).toBe(0);
      const results = await topology.probe([`tcp:${POD}:80`, `tcp:${POD}:9999`, `udp:${POD}:9999`]);
      expect(results[0]!.reply).toBe(`${ADDRESSES.source} ${D1}:80`);
      expect(results[1]).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
      expect(results[2]).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    });

    it('converges to the same state when the pod restarts, with nothing duplicated', async () => {
      expect((await topology.runRouter(env())).exitCode).toBe(0);
      const first = await topology.routerState();
      const second = await topology.runRouter(env());
      expect(second.exitCode).toBe(0);
      expect(await topology.routerState()).toBe(first);
      const dryRun = await topology.runRouter(env(), ['--dry-run']);
      // Only the firewall transaction and the announcements are left: the network is in place.
      expect(dryRun.stdout).not.toMatch(/^ip /m);
      const results = await topology.probe([`tcp:${POD}:80`]);
      expect(results[0]!.reply).toBe(`${ADDRESSES.source} ${D1}:80`);
    });

    it('leaves the namespace exactly as it was when the list is invalid', async () => {
      const before = await topology.routerState();
      const run = await topology.runRouter(env({ EGRESS_DESTINATION: `80 tcp ${D1}\n8080 tcp 999.1.1.1 80` }));
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toContain("EGRESS_DESTINATION line 2: invalid address '999.1.1.1'");
      expect(await topology.routerState()).toBe(before);
    });
  });
}

describeIntegration('legacy mode', () => {
  let topology: Topology;
  beforeEach(async () => {
    topology = await Topology.create();
  });
  afterEach(async () => topology.destroy());

  it('stays up after configuring and exits 0 within a second of SIGTERM', async () => {
    const router = topology.startRouter(routerEnv({ EGRESS_ROUTER_MODE: 'legacy', EGRESS_DESTINATION: `80 tcp ${D1}` }));
    await waitForOutput(router, 'egress router ready', 'legacy mode');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(router.exitCode).toBeNull();
    const signalled = performance.now();
    router.kill('SIGTERM');
    const result = await router;
    expect(result.exitCode).toBe(0);
    expect(performance.now() - signalled).toBeLessThan(1000);
  });
});

describeIntegration('a pod without its macvlan interface', () => {
  let topology: Topology;
  beforeEach(async () => {
    topology = await Topology.create({ macvlan: false });
  });
  afterEach(async () => topology.destroy());

  it('is refused with a clear message and left untouched', async () => {
    const before = await topology.routerState();
    const run = await topology.runRouter(routerEnv({ EGRESS_DESTINATION: `80 tcp ${D1}` }));
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/interface macvlan0: not found in this network namespace; refusing to configure/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(await topology.routerState()).toBe(before);
  });
});
