/**
 * Strict reverse-path filtering (rp_filter=1) in the router pod. Where it can, the router sets
 * loose mode on the interfaces it forwards between; where /proc/sys is read-only it refuses with
 * one line naming the sysctl, unless told EGRESS_ROUTER_RP_FILTER=keep. Its reply routing makes
 * strict filtering harmless anyway: the kernel checks a forwarded packet's source with the route
 * lookup reversed and the output interface as the input interface, so a client's packet that
 * leaves through macvlan0 is checked by the rule `iif macvlan0 lookup 4552`, whose table routes
 * the client through eth0, where the packet came in; the replies from the LAN are checked against
 * the main table's default via macvlan0, where they came in; the pod's own answers against
 * `from <pod address>` (docs/reverse-path-filtering.md).
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeIntegration } from '../support/integration.js';
import { LEAST_PRIVILEGE } from '../support/privileges.js';
import { SCENARIO } from '../support/scenario.js';
import { ADDRESSES, type PodStyle, Topology, routerEnv } from '../support/topology.js';

const RP_FILTER_KEYS = ['all', 'eth0', 'macvlan0'].map((name) => `net.ipv4.conf.${name}.rp_filter`);

for (const style of ['sdn', 'calico'] as PodStyle[]) {
  describeIntegration(`strict reverse-path filtering (${style} pod)`, () => {
    let topology: Topology;
    beforeEach(async () => {
      topology = await Topology.create({ style });
      await topology.startServers(topology.ns.lan, SCENARIO.servers);
      // Strict everywhere; forwarding on, as an unprivileged container needs its platform to do.
      const sysctls = [...RP_FILTER_KEYS.map((key) => `${key}=1`), 'net.ipv4.ip_forward=1'];
      await topology.exec(topology.ns.router, ['sysctl', '-qw', ...sysctls]);
    });
    afterEach(async () => topology.destroy());

    const rpFilter = async () => (await topology.exec(topology.ns.router, ['sysctl', '-n', ...RP_FILTER_KEYS])).split('\n');

    /** Packets the kernel dropped in this namespace for failing the reverse-path check. */
    async function reversePathDrops(): Promise<number> {
      const netstat = (await topology.exec(topology.ns.router, ['cat', '/proc/net/netstat'])).split('\n');
      const [names, values] = netstat.filter((line) => line.startsWith('TcpExt:')).map((line) => line.split(/\s+/));
      return Number(values![names!.indexOf('IPReversePathFilter')]);
    }

    it('sets loose mode on eth0 and macvlan0 where it can, and redirects every connection', async () => {
      const run = await topology.runRouter(routerEnv({ EGRESS_DESTINATION: SCENARIO.destinations }));
      expect(run.exitCode).toBe(0);
      expect(await rpFilter()).toEqual(['1', '2', '2']);
      const results = await topology.probe(SCENARIO.targets);
      expect(results.map((r) => r.reply ?? r.error)).toEqual(SCENARIO.replies);
    });

    it('refuses in an unprivileged container, naming the sysctl, and changes nothing', async () => {
      const before = await topology.routerState();
      const run = await topology.runRouter(routerEnv({ EGRESS_DESTINATION: SCENARIO.destinations }), [], { wrap: LEAST_PRIVILEGE });
      expect(run.exitCode).toBe(2);
      expect(run.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/^egress-router: sysctl net\.ipv4\.conf\.eth0\.rp_filter: is strict .* read-only here; set it to 2 .*EGRESS_ROUTER_RP_FILTER=keep/),
        expect.stringMatching(/^egress-router: sysctl net\.ipv4\.conf\.macvlan0\.rp_filter: is strict/),
      ]);
      expect(await topology.routerState()).toBe(before);
    });

    it('with EGRESS_ROUTER_RP_FILTER=keep redirects every connection from an unprivileged container, leaving rp_filter strict', async () => {
      const run = await topology.runRouter(routerEnv({ EGRESS_DESTINATION: SCENARIO.destinations, EGRESS_ROUTER_RP_FILTER: 'keep' }), [], { wrap: LEAST_PRIVILEGE });
      expect(run.stderr).toBe('');
      expect(run.exitCode).toBe(0);
      const results = await topology.probe(SCENARIO.targets);
      expect(results.map((r) => r.reply ?? r.error)).toEqual(SCENARIO.replies);
      // Unlisted ports are refused by the pod itself, whose answers pass the check too.
      expect((await topology.probe([`tcp:${ADDRESSES.pod}:81`]))[0]!.error).toBe('ECONNREFUSED');
      expect(await rpFilter()).toEqual(['1', '1', '1']);
      expect(await reversePathDrops()).toBe(0);
    });

    it('would drop the redirected connections without the reply rule for forwarded traffic: strict filtering is in force', async () => {
      expect((await topology.runRouter(routerEnv({ EGRESS_DESTINATION: SCENARIO.destinations, EGRESS_ROUTER_RP_FILTER: 'keep' }))).exitCode).toBe(0);
      await topology.exec(topology.ns.router, ['ip', '-4', 'rule', 'del', 'priority', '4552', 'iif', 'macvlan0', 'lookup', '4552']);
      expect((await topology.probe([`tcp:${ADDRESSES.pod}:80`], { timeoutMs: 1000 }))[0]!.ok).toBe(false);
      expect(await reversePathDrops()).toBeGreaterThan(0);
    });

    it('serves a proxy in the pod (http-proxy mode) with rp_filter strict', async () => {
      const run = await topology.runRouter(routerEnv({ EGRESS_ROUTER_MODE: 'http-proxy' }), [], { wrap: LEAST_PRIVILEGE });
      expect(run.exitCode).toBe(0);
      // A stand-in for the proxy: clients reach it on the pod's address, and it reaches the LAN.
      await topology.startServers(topology.ns.router, [`tcp:${ADDRESSES.pod}:3128`]);
      expect((await topology.probe([`tcp:${ADDRESSES.pod}:3128`]))[0]!.reply).toBe(`${ADDRESSES.client} ${ADDRESSES.pod}:3128`);
      const upstream = await topology.probe([`tcp:${ADDRESSES.destinations[0]}:80`], { from: topology.ns.router });
      expect(upstream[0]!.reply).toBe(`${ADDRESSES.source} ${ADDRESSES.destinations[0]}:80`);
      expect(await reversePathDrops()).toBe(0);
    });
  });
}
