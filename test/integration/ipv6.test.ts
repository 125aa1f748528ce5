/** The same router with an IPv6 source, gateway and destinations, on both backends. */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeIntegration } from '../support/integration.js';
import { ADDRESSES6, Topology } from '../support/topology.js';

const [D1, D2] = ADDRESSES6.destinations;
const POD = ADDRESSES6.pod;

for (const backend of ['nftables', 'iptables'] as const) {
  describeIntegration(`IPv6 redirect mode (${backend})`, () => {
    let topology: Topology;
    beforeEach(async () => {
      topology = await Topology.create();
      await topology.enableIPv6();
      await topology.startServers(topology.ns.lan, [`tcp:${D1}:80`, `udp:${D1}:53`, `tcp:${D2}:443`]);
    });
    afterEach(async () => topology.destroy());

    const env = {
      EGRESS_SOURCE: ADDRESSES6.sourceCidr,
      EGRESS_GATEWAY: ADDRESSES6.gateway,
      EGRESS_DESTINATION: `80 tcp ${D1}\n53 udp ${D1}\n8080 tcp ${D1} 80\n${D2}`,
      EGRESS_ROUTER_MODE: 'init',
      EGRESS_ROUTER_FIREWALL: backend,
    };

    it('redirects TCP and UDP from the IPv6 source address, and converges on a restart', async () => {
      const run = await topology.runRouter(env);
      expect(run.stderr).toBe('');
      expect(run.exitCode).toBe(0);
      const results = await topology.probe([`tcp:${POD}:80`, `udp:${POD}:53`, `tcp:${POD}:8080`, `tcp:${POD}:443`]);
      expect(results.map((r) => r.reply)).toEqual([
        `${ADDRESSES6.source} ${D1}:80`,
        `${ADDRESSES6.source} ${D1}:53`,
        `${ADDRESSES6.source} ${D1}:80`,
        `${ADDRESSES6.source} ${D2}:443`,
      ]);
      const again = await topology.runRouter(env, ['--dry-run']);
      expect(again.stdout).not.toMatch(/^ip /m);
    });
  });
}
