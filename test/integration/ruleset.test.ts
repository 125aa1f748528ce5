/**
 * Resolved rulesets in the kernel, on both backends: a name's addresses all receive connections,
 * a rule whose name has no address refuses instead of falling through to the fallback, the pod's
 * own ports are neither redirected nor reachable from the LAN, the counters match the
 * connections made, and an element-level update leaves an established connection alone.
 */
import { execa } from 'execa';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { renderNftables } from '../../src/firewall/nftables.js';
import { renderIptablesUpdate, renderNftablesUpdate } from '../../src/firewall/update.js';
import { describeIntegration } from '../support/integration.js';
import { type Backend, configurePod, load, loadNftables, readCounters, resolved } from '../support/kernel-rulesets.js';
import { waitForOutput } from '../support/output.js';
import { ADDRESSES, ADDRESSES6, ROOT, Topology } from '../support/topology.js';

const [D1, D2, D3] = ADDRESSES.destinations;
const { pod: POD, source: SOURCE } = ADDRESSES;
const LIST = [`5432 tcp db.example.com`, `81 tcp gone.example.com`, `7000 tcp ${D1}`, `80 tcp ${D1}`, `${D3}`].join('\n');
const ANSWERS = { 'db.example.com': [D1!, D2!] };
const STATUS = { protocol: 'tcp' as const, port: 7777 };
const CONNECTIONS = 40;

for (const backend of ['nftables', 'iptables'] as const satisfies readonly Backend[]) {
  describeIntegration(`resolved rulesets in the kernel (${backend})`, () => {
    let topology: Topology;
    let destinations: { hits: () => string[] };
    beforeEach(async () => {
      topology = await Topology.create();
      destinations = await topology.startServers(
        topology.ns.lan,
        [`tcp:${D1}:5432`, `tcp:${D2}:5432`, `tcp:${D1}:80`, `tcp:${D2}:80`, `echo:${D1}:7000`, `tcp:${D3}:81`, `tcp:${D3}:9999`],
        { logHits: true },
      );
      await configurePod(topology, backend);
    });
    afterEach(async () => topology.destroy());

    it(`spreads new connections across both addresses of a name, and counts them per rule`, async () => {
      await load(topology, backend, resolved(LIST, ANSWERS));
      const results = await topology.probe([`tcp:${POD}:5432`], { timeoutMs: 2000, count: CONNECTIONS });
      expect(results.filter((r) => r.ok)).toHaveLength(CONNECTIONS);
      const reached = new Set(results.map((r) => r.reply));
      expect(reached).toEqual(new Set([`${SOURCE} ${D1}:5432`, `${SOURCE} ${D2}:5432`]));
      const counters = await readCounters(topology, backend);
      const rule = counters.rules.find((r) => r.protocol === 'tcp' && r.port === 5432)!;
      expect(rule.connections).toBe(CONNECTIONS);
      if (backend === 'nftables') {
        // A connection is at least SYN, ACK and FIN each way.
        expect(rule.out!.packets).toBeGreaterThanOrEqual(3 * CONNECTIONS);
        expect(rule.in!.packets).toBeGreaterThanOrEqual(2 * CONNECTIONS);
        expect(rule.in!.bytes).toBeGreaterThan(0);
      }
    });

    it('refuses a rule whose name has no address although there is a fallback, which still serves other ports', async () => {
      await load(topology, backend, resolved(LIST, ANSWERS));
      const [unresolved, other] = await topology.probe([`tcp:${POD}:81`, `tcp:${POD}:9999`]);
      expect(unresolved).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
      expect(other!.reply).toBe(`${SOURCE} ${D3}:9999`);
      expect(destinations.hits().filter((h) => h.endsWith(`${D3}:81`))).toEqual([]);
      const counters = await readCounters(topology, backend);
      expect(counters.rules.find((r) => r.port === 81)).toMatchObject({ connections: 0, refused: 1 });
      expect(counters.fallback.connections).toBe(1);
    });

    it('keeps the pod’s own port from the fallback and from the LAN, while clients’ redirects work', async () => {
      const own = await topology.startServers(topology.ns.router, [`tcp:${POD}:7777`, `tcp:${SOURCE}:7777`, `udp:${SOURCE}:7777`], { logHits: true });
      await load(topology, backend, resolved(LIST, ANSWERS, { localPorts: [STATUS] }));
      // From the cluster: the pod answers itself on its own port; the fallback does not take it.
      const [status, redirected] = await topology.probe([`tcp:${POD}:7777`, `tcp:${POD}:80`]);
      expect(status!.reply).toBe(`${ADDRESSES.client} ${POD}:7777`);
      expect(redirected!.reply).toBe(`${SOURCE} ${D1}:80`);
      // From the LAN, whichever address of the pod it tries: refused, never accepted. (The reset
      // for the pod's cluster address leaves, as everything from that address does, through the
      // cluster interface, so the LAN host hears nothing back.)
      await topology.exec(topology.ns.lan, ['ip', 'route', 'add', '10.128.0.0/14', 'via', SOURCE]);
      const fromLan = await topology.probe([`tcp:${SOURCE}:7777`, `udp:${SOURCE}:7777`, `tcp:${POD}:7777`], { from: topology.ns.lan, timeoutMs: 1000 });
      expect(fromLan.map((r) => r.error)).toEqual(['ECONNREFUSED', 'ECONNREFUSED', expect.stringMatching(/^(ECONNREFUSED|timeout)$/)]);
      expect(own.hits().filter((h) => h.includes(ADDRESSES.gateway))).toEqual([]);
      // The same servers answer the LAN without the input filter: the test can tell.
      await topology.exec(topology.ns.router, backend === 'nftables' ? ['nft', 'flush', 'chain', 'ip', 'egress_router', 'input'] : ['iptables', '-F', 'EGRESS-ROUTER-INPUT']);
      const unfiltered = await topology.probe([`tcp:${SOURCE}:7777`], { from: topology.ns.lan, timeoutMs: 1000 });
      expect(unfiltered[0]!.reply).toBe(`${ADDRESSES.gateway} ${SOURCE}:7777`);
    });

    it('applies an element-level update while a connection through an unchanged rule keeps echoing', async () => {
      const before = resolved(LIST, ANSWERS);
      await load(topology, backend, before);
      const long = execa('ip', ['netns', 'exec', topology.ns.client, process.execPath, `${ROOT}/test/fixtures/long-connection.mjs`, '--every', '50', '--for', '20000', `${POD}:7000`], {
        reject: false,
      });
      await waitForOutput(long, 'connected', 'the long connection');
      // Every kind of change at once: a spreading rule down to one address, a changed address,
      // a new rule, a removed one, a name that resolves, and another fallback.
      const after = resolved([`5432 tcp db.example.com`, `81 tcp gone.example.com`, `7000 tcp ${D1}`, `80 tcp ${D2}`, `8080 tcp ${D2} 80`, `${D1}`].join('\n'), {
        'db.example.com': [D2!],
        'gone.example.com': [D3!],
      });
      const update = backend === 'nftables' ? renderNftablesUpdate(before, after)! : renderIptablesUpdate(before, after)!;
      const argv = backend === 'nftables' ? ['nft', '-f', '-'] : ['iptables-restore', '--noflush'];
      await topology.exec(topology.ns.router, argv, update);
      const results = await topology.probe([`tcp:${POD}:80`, `tcp:${POD}:8080`, `tcp:${POD}:5432`, `tcp:${POD}:81`]);
      expect(results.map((r) => r.reply)).toEqual([`${SOURCE} ${D2}:80`, `${SOURCE} ${D2}:80`, `${SOURCE} ${D2}:5432`, `${SOURCE} ${D3}:81`]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      long.kill('SIGTERM');
      const summary = JSON.parse((await long).stdout.split('\n').at(-1)!) as { sent: number; echoed: number; error: string | null };
      expect(summary.error).toBeNull();
      expect(summary.sent).toBeGreaterThan(5);
      expect(summary.echoed).toBeGreaterThanOrEqual(summary.sent - 2);
    });
  });
}

for (const backend of ['nftables', 'iptables'] as const) {
  describeIntegration(`the input filter with IPv6 (${backend})`, () => {
    let topology: Topology;
    beforeEach(async () => {
      topology = await Topology.create();
      await topology.enableIPv6();
    });
    afterEach(async () => topology.destroy());

    it('refuses new connections from the LAN to the pod, and lets neighbour discovery through', async () => {
      const { source, sourceCidr, gateway, destinations } = ADDRESSES6;
      await topology.startServers(topology.ns.lan, [`tcp:${destinations[0]}:80`]);
      const run = await topology.runRouter({
        EGRESS_SOURCE: sourceCidr,
        EGRESS_GATEWAY: gateway,
        EGRESS_DESTINATION: `80 tcp ${destinations[0]}`,
        EGRESS_ROUTER_MODE: 'init',
        EGRESS_ROUTER_FIREWALL: backend,
      });
      expect(run.exitCode).toBe(0);
      await topology.startServers(topology.ns.router, [`tcp:${source}:7777`]);
      // A neighbour solicitation from the LAN for the source address gets its advertisement.
      const solicited = await execa('ip', ['netns', 'exec', topology.ns.lan, 'ndisc6', '-1', '-r', '3', '-w', '500', source, 'lan0'], { reject: false });
      expect(solicited.exitCode).toBe(0);
      expect(solicited.stdout).toMatch(/Target link-layer address: [0-9A-F:]{17}/i);
      const [fromLan] = await topology.probe([`tcp:${source}:7777`], { from: topology.ns.lan, timeoutMs: 1000 });
      expect(fromLan).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
      const [redirected] = await topology.probe([`tcp:${ADDRESSES6.pod}:80`]);
      expect(redirected!.reply).toBe(`${source} ${destinations[0]}:80`);
    });
  });
}

describeIntegration('an nft update of one element among 100,000', () => {
  let topology: Topology;
  beforeEach(async () => {
    topology = await Topology.create();
    await topology.startServers(topology.ns.lan, [`tcp:${D1}:80`]);
    await configurePod(topology, 'nftables');
  });
  afterEach(async () => topology.destroy());

  it('changes that element only, in one small transaction', async () => {
    const protocols = ['tcp', 'udp', 'sctp'];
    const lines = Array.from({ length: 100_000 }, (_, i) => `${(i % 65535) + 1} ${protocols[Math.floor(i / 65535)]} 203.0.${(i >> 7) & 255}.${(i & 127) + 1} 80`);
    const before = resolved(lines.join('\n'), {});
    const full = await loadNftables(topology, renderNftables(before));
    lines[4999] = `5000 tcp ${D1} 80`;
    const after = resolved(lines.join('\n'), {});
    const started = performance.now();
    const update = renderNftablesUpdate(before, after)!;
    const rendered = performance.now() - started;
    const applied = await loadNftables(topology, update);
    console.log(
      `100,000 rules: full load ${Math.round(full)} ms; one-element update rendered in ${Math.round(rendered)} ms, applied in ${Math.round(applied)} ms (${update.length} bytes)`,
    );
    const [result] = await topology.probe([`tcp:${POD}:5000`]);
    expect(result!.reply).toBe(`${SOURCE} ${D1}:80`);
  });
});
