/**
 * Load: a bounded burst through the router, 20,000 short TCP connections and 20,000 UDP
 * datagrams, each on its own socket (its own conntrack entry and NAT mapping), 64 in flight.
 * Every one must be answered, and answered from the reserved source address; nothing is retried.
 * The figures are printed for the notes.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIntegration } from '../support/integration.js';
import { ADDRESSES, ROOT, Topology, routerEnv } from '../support/topology.js';

const [D1, D2] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;
const CONNECTIONS = 20_000;
const DATAGRAMS = 20_000;
const CONCURRENCY = 64;
/** The whole burst must fit in this; the generator starts nothing after it. */
const DEADLINE_MS = 60_000;

type Backend = 'nftables' | 'iptables';

interface Phase {
  target: string;
  count: number;
  sent: number;
  answered: number;
  replies: Record<string, number>;
  errors: Record<string, number>;
  ms: number;
  perSecond: number;
}

/** The router's count of dropped forwarded packets, which a clean burst leaves at zero. */
async function forwardDrops(topology: Topology, backend: Backend): Promise<number | undefined> {
  const ns = topology.ns.router;
  const match =
    backend === 'nftables'
      ? /packets (\d+)/.exec(await topology.exec(ns, ['nft', 'list', 'counter', 'ip', 'egress_router', 'forward_dropped']))
      : /^\[(\d+):\d+\] -A EGRESS-ROUTER-FORWARD -j DROP$/m.exec(await topology.exec(ns, ['iptables-save', '-c', '-t', 'filter']));
  return match ? Number(match[1]) : undefined;
}

for (const backend of ['nftables', 'iptables'] as const) {
  describeIntegration(`soak with the ${backend} backend`, () => {
    let topology: Topology;
    beforeAll(async () => {
      topology = await Topology.create();
      await topology.startServers(topology.ns.lan, [`tcp:${D1}:80`, `udp:${D2}:53`]);
      const run = await topology.runRouter(routerEnv({ EGRESS_DESTINATION: `80 tcp ${D1}\n53 udp ${D2}`, EGRESS_ROUTER_FIREWALL: backend }));
      expect(run.exitCode).toBe(0);
    });
    afterAll(async () => topology?.destroy());

    it(
      `answers ${CONNECTIONS} TCP connections and ${DATAGRAMS} UDP datagrams within ${DEADLINE_MS / 1000} s, every one from EGRESS_SOURCE`,
      async () => {
        const out = await topology.exec(topology.ns.client, [
          process.execPath,
          `${ROOT}/test/fixtures/load-generator.mjs`,
          ...['--concurrency', String(CONCURRENCY), '--timeout', '5000', '--deadline', String(DEADLINE_MS)],
          `tcp:${POD}:80:${CONNECTIONS}`,
          `udp:${POD}:53:${DATAGRAMS}`,
        ]);
        const load = JSON.parse(out) as { concurrency: number; totalMs: number; phases: Phase[] };
        const drops = await forwardDrops(topology, backend);
        const conntrack = await topology.exec(topology.ns.router, ['sysctl', '-n', 'net.netfilter.nf_conntrack_count']);
        // Where a lost datagram would show: past ~1,000 in flight the echo server's socket overflows.
        const serverOverflows = /UdpRcvbufErrors\s+(\d+)/.exec(await topology.exec(topology.ns.lan, ['nstat', '-asz', 'UdpRcvbufErrors']))?.[1];
        for (const p of load.phases) {
          console.log(
            `soak (${backend}) ${p.target}: ${p.answered}/${p.count} answered, ${p.count - p.answered} lost ` +
              `(errors ${JSON.stringify(p.errors)}) in ${p.ms} ms, ${p.perSecond}/s, ${load.concurrency} in flight`,
          );
        }
        console.log(
          `soak (${backend}) total ${load.totalMs} ms; router forward drops ${drops}; ` +
            `echo server receive-buffer overflows ${serverOverflows}; conntrack entries after ${conntrack}`,
        );

        const [tcp, udp] = load.phases;
        expect(tcp!.errors).toEqual({});
        expect(tcp!.replies).toEqual({ [`${ADDRESSES.source} ${D1}:80`]: CONNECTIONS });
        expect(udp!.errors).toEqual({});
        expect(udp!.replies).toEqual({ [`${ADDRESSES.source} ${D2}:53`]: DATAGRAMS });
        expect(load.totalMs).toBeLessThan(DEADLINE_MS);
        expect(drops).toBe(0);
      },
      // The generator's own deadline, plus room for a slow last attempt and the set-up.
      DEADLINE_MS + 30_000,
    );
  });
}
