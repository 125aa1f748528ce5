/**
 * Faults during apply, in real namespaces: a firewall load the kernel refuses partway, a tool
 * missing from PATH, a network step refused after the firewall went in, SIGTERM in the middle of
 * the firewall load, and restarts. After each, no partial ruleset is left, the error names the
 * step, and the next run converges to the state a clean run leaves.
 */
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResultPromise } from 'execa';
import { REFUSED_IPTABLES_RULE, REFUSED_NFT_RULE, ToolDir } from '../fixtures/tool-wrappers.js';
import { describeIntegration } from '../support/integration.js';
import { ADDRESSES, Topology, routerEnv } from '../support/topology.js';

const [D1, D2] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;
const SERVERS = [`tcp:${D1}:80`, `tcp:${D2}:80`];
/**
 * A good configuration the pod may already run when the faulty run comes. With debug on, its
 * forward filter also logs drops, so it differs from WANTED's in the first iptables table too.
 */
const PREVIOUS = `80 tcp ${D1}`;
const PREVIOUS_DEBUG = { EGRESS_ROUTER_DEBUG: '1' };
/** The configuration every faulty run tries to apply. */
const WANTED = `80 tcp ${D1}\n8080 tcp ${D2} 80`;
const WANTED_REPLIES = [`${ADDRESSES.source} ${D1}:80`, `${ADDRESSES.source} ${D2}:80`];

type Backend = 'nftables' | 'iptables';

/**
 * The router's iptables chains and every rule in the nat and filter tables, by table, from
 * iptables-save. Built-in chain declarations are left out: iptables-nft creates them empty on
 * first use and they carry no rule.
 */
async function iptablesRules(topology: Topology): Promise<string> {
  const saved = await topology.exec(topology.ns.router, ['iptables-save']);
  let table = '';
  const lines: string[] = [];
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith('-A ') || line.startsWith(':EGRESS-ROUTER-')) lines.push(`${table}: ${line.replace(/ \[\d+:\d+\]$/, '')}`);
  }
  return lines.join('\n');
}

/**
 * Everything the router can change, comparable across topologies (namespace names differ).
 * With iptables the firewall part is iptablesRules(): `nft list ruleset` would also show the
 * empty built-in chains a rolled-back iptables-nft load leaves, and their order.
 */
async function settledState(topology: Topology, backend: Backend): Promise<string> {
  const parts = (await topology.routerState()).split('\n---\n');
  if (backend === 'iptables') parts[3] = await iptablesRules(topology);
  return parts.join('\n---\n').replace(/ert-[0-9a-f]+-/g, 'ert-ID-');
}

/** The firewall section of routerState() alone. */
const rulesetOf = (state: string): string => state.split('\n---\n')[3]!;

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * A legacy-mode router keeps its status endpoint's port out of the redirects; without the
 * endpoint its state is exactly that of the clean `init` run the tests compare with.
 */
const LEGACY_LIKE_INIT = { EGRESS_ROUTER_STATUS_PORT: 'off' };

/** Resolves once a legacy-mode router logged that it is ready. */
function readyOf(router: ResultPromise): Promise<void> {
  let output = '';
  router.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return waitFor(() => output.includes('egress router ready') || router.exitCode !== null, 'the router to be ready');
}

for (const backend of ['nftables', 'iptables'] as const) {
  const env = (list: string, extra: Record<string, string> = {}) =>
    routerEnv({ EGRESS_DESTINATION: list, EGRESS_ROUTER_FIREWALL: backend, ...extra });
  const label = `firewall (${backend})`;

  describeIntegration(`faults with the ${backend} backend`, () => {
    let clean: string;
    let topology: Topology;
    let tools: ToolDir;

    beforeAll(async () => {
      // What a clean run of WANTED leaves in a fresh pod: every recovery must end here.
      const reference = await Topology.create();
      try {
        const run = await reference.runRouter(env(WANTED));
        expect(run.exitCode).toBe(0);
        clean = await settledState(reference, backend);
      } finally {
        await reference.destroy();
      }
    });
    beforeEach(async () => {
      topology = await Topology.create();
      await topology.startServers(topology.ns.lan, SERVERS);
      tools = ToolDir.create();
    });
    afterEach(async () => {
      tools.remove();
      await topology.destroy();
    });

    /** A run without faults converges: exit 0, the wanted redirects answer, the clean state. */
    async function expectRecovery(): Promise<void> {
      const run = await topology.runRouter(env(WANTED));
      expect(run.stderr).toBe('');
      expect(run.exitCode).toBe(0);
      expect((await topology.probe([`tcp:${POD}:80`, `tcp:${POD}:8080`])).map((r) => r.reply)).toEqual(WANTED_REPLIES);
      expect(await settledState(topology, backend)).toBe(clean);
    }

    const breakFirewall = () => (backend === 'nftables' ? tools.refusingNft() : tools.refusingIptablesRestoreOnce());
    const stepError = new RegExp(
      backend === 'nftables'
        ? `^egress-router: step '${label.replace(/[()]/g, '\\$&')}': nft -f - failed: .*Operation not supported; ${REFUSED_NFT_RULE}$`
        : `^egress-router: step '${label.replace(/[()]/g, '\\$&')}': iptables-restore --noflush failed: .*; the chains were restored to their previous state$`,
    );

    it('a first run whose firewall load the kernel refuses partway leaves no ruleset and no network change, names the step, exits 3, and the next run converges', async () => {
      const before = await settledState(topology, backend);
      const run = await topology.runRouter(env(WANTED), [], { path: breakFirewall().path });
      expect(run.exitCode).toBe(3);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(stepError);
      if (backend === 'iptables') {
        // The refused rule was in the nat table: the filter table had already been committed.
        const partial = readFileSync(tools.file('after-failed-load.txt'), 'utf8');
        expect(partial).toContain('-A EGRESS-ROUTER-FORWARD');
        expect(partial).not.toContain(REFUSED_IPTABLES_RULE);
      }
      expect(await settledState(topology, backend)).toBe(before);
      await expectRecovery();
    });

    it('a refused firewall load on top of a previous good configuration leaves that configuration whole and working', async () => {
      expect((await topology.runRouter(env(PREVIOUS, PREVIOUS_DEBUG))).exitCode).toBe(0);
      const previous = await topology.routerState();
      expect(rulesetOf(previous)).toContain('egress-router drop: ');
      const run = await topology.runRouter(env(WANTED), [], { path: breakFirewall().path });
      expect(run.exitCode).toBe(3);
      expect(run.stderr).toMatch(stepError);
      if (backend === 'iptables') {
        // The filter table had been committed without the previous drop logging: rolled back.
        const partial = readFileSync(tools.file('after-failed-load.txt'), 'utf8');
        expect(partial).toContain('-A EGRESS-ROUTER-FORWARD');
        expect(partial).not.toContain('egress-router drop: ');
      }
      // Counters aside, byte for byte what the good run left, down to the order of the chains.
      expect(await topology.routerState()).toBe(previous);
      const results = await topology.probe([`tcp:${POD}:80`, `tcp:${POD}:8080`]);
      expect(results[0]!.reply).toBe(WANTED_REPLIES[0]);
      expect(results[1]).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
      await expectRecovery();
    });

    it(`is refused before any change when ${backend === 'nftables' ? 'nft' : 'iptables-restore'} is missing from PATH, and the next run converges`, async () => {
      const tool = backend === 'nftables' ? 'nft' : 'iptables-restore';
      const before = await topology.routerState();
      const run = await topology.runRouter(env(WANTED), [], { path: tools.onlyToolsExcept(tool) });
      expect(run.exitCode).toBe(2);
      expect(run.stderr).toBe(`egress-router: command ${tool}: not found on PATH; install it in the image`);
      expect(await topology.routerState()).toBe(before);
      await expectRecovery();
    });

    it('a network step the kernel refuses after the firewall went in names that step, leaves the whole ruleset, and the next run converges', async () => {
      const run = await topology.runRouter(env(WANTED), [], { path: tools.refusingDefaultRoute().path });
      expect(run.exitCode).toBe(3);
      expect(run.stderr).toMatch(/^egress-router: step 'default route': ip -4 route replace default via 192\.168\.12\.1 dev macvlan0 failed: .*gateway/);
      expect(rulesetOf(await settledState(topology, backend))).toBe(rulesetOf(clean));
      await expectRecovery();
    });

    it('five restarts in legacy mode, each stopped by SIGTERM, converge to one state, that of a clean run', async () => {
      const states: string[] = [];
      for (let restart = 0; restart < 5; restart++) {
        const router = topology.startRouter(env(WANTED, { EGRESS_ROUTER_MODE: 'legacy', ...LEGACY_LIKE_INIT }));
        await readyOf(router);
        router.kill('SIGTERM');
        const result = await router;
        expect(result.exitCode).toBe(0);
        states.push(await settledState(topology, backend));
      }
      expect(new Set(states).size).toBe(1);
      expect(states[0]).toBe(clean);
      expect((await topology.probe([`tcp:${POD}:80`, `tcp:${POD}:8080`])).map((r) => r.reply)).toEqual(WANTED_REPLIES);
    });

    it('SIGTERM during the firewall load in legacy mode waits for the apply to complete, exits 0, and leaves the state of a clean run', async () => {
      const tool = backend === 'nftables' ? 'nft' : 'iptables-restore';
      tools.slowFirewallLoad(tool, 300);
      const router = topology.startRouter(env(WANTED, { EGRESS_ROUTER_MODE: 'legacy', ...LEGACY_LIKE_INIT, PATH: tools.path }));
      await waitFor(() => existsSync(tools.file('loading')) || router.exitCode !== null, 'the firewall load to start');
      expect(router.exitCode).toBeNull();
      const signalled = performance.now();
      router.kill('SIGTERM');
      const result = await router;
      expect(result.exitCode).toBe(0);
      // The apply finished the load it was in and every step after it before stopping.
      expect(result.stdout).toContain('egress router ready');
      expect(result.stdout).toMatch(/"signal":"SIGTERM".*stopping; the configuration stays in place/);
      expect(performance.now() - signalled).toBeLessThan(10_000);
      expect(await settledState(topology, backend)).toBe(clean);
      expect((await topology.probe([`tcp:${POD}:80`, `tcp:${POD}:8080`])).map((r) => r.reply)).toEqual(WANTED_REPLIES);
    });
  });
}
