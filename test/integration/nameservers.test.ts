/**
 * The pod's nameservers stay reachable after the default route moves to the LAN: the cluster
 * DNS service is reached through the cluster interface only, and on a Calico-style pod only
 * through the original default route.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { DnsServer } from '../support/dns-server.js';
import { describeIntegration } from '../support/integration.js';
import { ADDRESSES, type PodStyle, Topology, routerEnv } from '../support/topology.js';

/** The cluster DNS service's address: on no subnet the pod has a route for. */
const CLUSTER_DNS = '172.30.0.10';

for (const style of ['sdn', 'calico'] as PodStyle[]) {
  describeIntegration(`nameservers of a ${style}-style pod`, () => {
    let topology: Topology;
    let dns: DnsServer;
    let dir: string;
    let resolvConf: string;

    beforeEach(async () => {
      topology = await Topology.create({ style });
      await topology.exec(topology.ns.cluster, ['ip', 'addr', 'add', `${CLUSTER_DNS}/32`, 'dev', 'lo']);
      dns = await DnsServer.start(topology.ns.cluster, CLUSTER_DNS, [{ name: 'db.example.com', addresses: [ADDRESSES.destinations[0]], ttl: 30 }]);
      dir = mkdtempSync(join(tmpdir(), 'ert-resolv-'));
      resolvConf = join(dir, 'resolv.conf');
      writeFileSync(resolvConf, `search egress.svc.cluster.local svc.cluster.local\nnameserver ${CLUSTER_DNS}\noptions ndots:5 timeout:1 attempts:1\n`);
    });
    afterEach(async () => {
      await dns.stop();
      await topology.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    const lookup = async () => {
      const script = `const r = new (require('node:dns').promises.Resolver)({ timeout: 800, tries: 1 }); r.setServers(['${CLUSTER_DNS}']);
        r.resolve4('db.example.com').then((a) => console.log(a.join(',')), (e) => console.log(e.code));`;
      return (await topology.exec(topology.ns.router, [process.execPath, '-e', script])).trim();
    };

    it('are still answered through the cluster interface once the router has moved the default route', async () => {
      expect(await lookup()).toBe(ADDRESSES.destinations[0]);
      const run = await topology.runRouter(routerEnv({ EGRESS_DESTINATION: `80 tcp ${ADDRESSES.destinations[0]}`, EGRESS_ROUTER_RESOLV_CONF: resolvConf }));
      expect(run.exitCode).toBe(0);
      expect(await topology.exec(topology.ns.router, ['ip', 'route', 'show', 'default'])).toContain('macvlan0');
      expect(await lookup()).toBe(ADDRESSES.destinations[0]);

      // Without the router's rule the query takes the new default to the LAN and is lost.
      await topology.exec(topology.ns.router, ['ip', 'rule', 'del', 'to', CLUSTER_DNS, 'lookup', '4552']);
      expect(['ETIMEOUT', 'ECONNREFUSED']).toContain(await lookup());
    });
  });
}
