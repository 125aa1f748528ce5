/**
 * The legacy router's measured flaws, each pinned by a test that fails on the old behaviour:
 * replies that depend on the cluster network's routes, and an open door in both directions.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { dropCounterCommand, parseDropCount } from '../../src/firewall/drops.js';
import { describeIntegration } from '../support/integration.js';
import { ADDRESSES, Topology, routerEnv } from '../support/topology.js';

const [D1, , D3] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;
/** A host beyond the LAN gateway that the cluster must not reach through the router unless redirected. */
const OUTSIDE = '198.51.100.1';

for (const backend of ['nftables', 'iptables'] as const) {
  describeIntegration(`replies on a Calico-style pod (${backend})`, () => {
    let topology: Topology;
    beforeEach(async () => {
      topology = await Topology.create({ style: 'calico' });
      await topology.startServers(topology.ns.lan, [`tcp:${D1}:80`, `udp:${D1}:53`, `tcp:${D3}:9999`]);
    });
    afterEach(async () => topology.destroy());
    const env = (extra: Record<string, string> = {}) =>
      routerEnv({ EGRESS_DESTINATION: `80 tcp ${D1}\n53 udp ${D1}\n${D3}`, EGRESS_ROUTER_FIREWALL: backend, ...extra });

    it('answers clients through eth0 although the pod has only a link-local default route', async () => {
      expect((await topology.runRouter(env())).exitCode).toBe(0);
      const results = await topology.probe([`tcp:${POD}:80`, `udp:${POD}:53`, `tcp:${POD}:9999`]);
      expect(results.map((r) => r.reply)).toEqual([
        `${ADDRESSES.source} ${D1}:80`,
        `${ADDRESSES.source} ${D1}:53`,
        `${ADDRESSES.source} ${D3}:9999`,
      ]);
    });

    it('gets no replies without the reply rules, as the legacy router did', async () => {
      expect((await topology.runRouter(env())).exitCode).toBe(0);
      await topology.exec(topology.ns.router, ['ip', 'rule', 'del', 'priority', '4552', 'iif', 'macvlan0', 'lookup', '4552']);
      const [result] = await topology.probe([`tcp:${POD}:80`], { timeoutMs: 700 });
      expect(result).toMatchObject({ ok: false, error: 'timeout' });
    });

    it('refuses unlisted ports from the pod itself, through eth0, when there is no fallback', async () => {
      expect((await topology.runRouter(env({ EGRESS_DESTINATION: `80 tcp ${D1}` }))).exitCode).toBe(0);
      const results = await topology.probe([`tcp:${POD}:81`, `udp:${POD}:81`]);
      expect(results.map((r) => r.error)).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
    });

    it('converges on a restart, reply routing included', async () => {
      expect((await topology.runRouter(env())).exitCode).toBe(0);
      const first = await topology.routerState();
      expect((await topology.runRouter(env())).exitCode).toBe(0);
      expect(await topology.routerState()).toBe(first);
      const [result] = await topology.probe([`tcp:${POD}:80`]);
      expect(result!.reply).toBe(`${ADDRESSES.source} ${D1}:80`);
    });
  });

  describeIntegration(`no door through the router (${backend})`, () => {
    let topology: Topology;
    let outside: { hits: () => string[] };
    let inside: { hits: () => string[] };
    beforeEach(async () => {
      topology = await Topology.create();
      const { lan, client, cluster } = topology.ns;
      // A host outside, beyond the LAN gateway, and a service inside the cluster, on the client pod.
      await topology.exec(lan, ['ip', 'addr', 'add', `${OUTSIDE}/32`, 'dev', 'lo']);
      await topology.startServers(lan, [`tcp:${D1}:80`]);
      outside = await topology.startServers(lan, [`tcp:${OUTSIDE}:7000`, `udp:${OUTSIDE}:7000`], { logHits: true });
      inside = await topology.startServers(client, [`tcp:${ADDRESSES.client}:7000`, `udp:${ADDRESSES.client}:7000`], { logHits: true });
      // The LAN routes the cluster network via the egress address; the cluster routes "outside" via the pod.
      await topology.exec(lan, ['ip', 'route', 'add', '10.128.0.0/14', 'via', ADDRESSES.source]);
      await topology.exec(cluster, ['ip', 'route', 'add', `${OUTSIDE}/32`, 'via', POD]);
      const run = await topology.runRouter(routerEnv({ EGRESS_DESTINATION: `80 tcp ${D1}`, EGRESS_ROUTER_FIREWALL: backend }));
      expect(run.exitCode).toBe(0);
    });
    afterEach(async () => topology.destroy());

    async function dropped(): Promise<number> {
      const out = await topology.exec(topology.ns.router, dropCounterCommand(backend, 4));
      return parseDropCount(backend, out)!;
    }

    it('does not let a LAN host reach pods inside the cluster via the egress address', async () => {
      const before = await dropped();
      const results = await topology.probe([`tcp:${ADDRESSES.client}:7000`, `udp:${ADDRESSES.client}:7000`], { from: topology.ns.lan, timeoutMs: 700 });
      expect(results.map((r) => r.ok)).toEqual([false, false]);
      // Not a lost reply: nothing arrived at the pod inside the cluster.
      expect(inside.hits()).toEqual([]);
      expect(await dropped()).toBeGreaterThan(before);
    });

    it('does not forward cluster traffic that was not redirected, whatever its destination', async () => {
      const before = await dropped();
      const results = await topology.probe([`tcp:${OUTSIDE}:7000`, `udp:${OUTSIDE}:7000`], { timeoutMs: 700 });
      expect(results.map((r) => r.ok)).toEqual([false, false]);
      expect(outside.hits()).toEqual([]);
      expect(await dropped()).toBeGreaterThan(before);
      // Redirected connections still pass.
      const [redirected] = await topology.probe([`tcp:${POD}:80`]);
      expect(redirected!.reply).toBe(`${ADDRESSES.source} ${D1}:80`);
    });
  });
}

describeIntegration('dropped forwards at debug level', () => {
  let topology: Topology;
  beforeEach(async () => {
    topology = await Topology.create();
  });
  afterEach(async () => topology.destroy());

  it('logs drops in the kernel log only when EGRESS_ROUTER_DEBUG is set', async () => {
    await topology.runRouter(routerEnv({ EGRESS_DESTINATION: `80 tcp ${D1}` }));
    expect(await topology.exec(topology.ns.router, ['nft', 'list', 'chain', 'ip', 'egress_router', 'forward'])).not.toContain('log prefix');
    await topology.runRouter(routerEnv({ EGRESS_DESTINATION: `80 tcp ${D1}`, EGRESS_ROUTER_DEBUG: '1' }));
    expect(await topology.exec(topology.ns.router, ['nft', 'list', 'chain', 'ip', 'egress_router', 'forward'])).toContain(
      'log prefix "egress-router drop: " level debug',
    );
  });
});
