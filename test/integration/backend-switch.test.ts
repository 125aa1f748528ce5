/**
 * Switching EGRESS_ROUTER_FIREWALL between runs: the new backend's ruleset is loaded first, the
 * old one's rules are removed after it, and nothing foreign is touched, although with iptables-nft
 * both backends keep their objects in nftables.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { realTool } from '../fixtures/tool-wrappers.js';
import { describeIntegration } from '../support/integration.js';
import { SCENARIO } from '../support/scenario.js';
import { Topology, routerEnv } from '../support/topology.js';

type Backend = 'nftables' | 'iptables';

/**
 * Wrappers that write down, whenever a firewall command loads something, how much of the other
 * backend's ruleset is there at that moment: `<tool> <count>` lines.
 */
function witnessDir(): { path: string; seen: (tool: 'nft' | 'iptables-restore') => string[]; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'egress-router-switch-'));
  const log = join(dir, 'seen-at-removal');
  const script = (name: string, condition: string, witness: string) => {
    writeFileSync(join(dir, name), `#!/bin/sh\nif ${condition}; then echo "${name} $(${witness})" >> '${log}' 2>&1; fi\nexec '${realTool(name)}' "$@"\n`);
    chmodSync(join(dir, name), 0o755);
  };
  // With iptables chosen, `nft -f` runs only to remove the old table: the count of iptables rules.
  script('nft', '[ "$1" = "-f" ]', `'${realTool('iptables-save')}' | grep -c '^-A EGRESS-ROUTER-'`);
  // With nftables chosen, iptables-restore runs only to remove the old chains: the nftables table.
  script('iptables-restore', 'true', `'${realTool('nft')}' list chains ip | grep -c '^table ip egress_router '`);
  return {
    path: `${dir}${delimiter}${process.env.PATH ?? ''}`,
    seen: (tool) => {
      let text = '';
      try {
        text = readFileSync(log, 'utf8');
      } catch {
        // nothing ran
      }
      return text.split('\n').filter((l) => l.startsWith(`${tool} `)).map((l) => l.slice(tool.length + 1));
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

describeIntegration('firewall backend switch', () => {
  let topology: Topology;
  let witness: ReturnType<typeof witnessDir>;
  beforeEach(async () => {
    topology = await Topology.create();
    witness = witnessDir();
    await topology.startServers(topology.ns.lan, SCENARIO.servers);
    // Someone else's objects in both: an nftables table, an iptables chain with a jump, a rule.
    const ns = topology.ns.router;
    await topology.exec(ns, ['nft', '-f', '-'], 'table ip foreign {\n\tchain forward {\n\t\ttype filter hook forward priority 10; policy accept;\n\t\tcounter\n\t}\n}\n');
    await topology.exec(ns, ['iptables', '-t', 'nat', '-N', 'FOREIGN-CHAIN']);
    await topology.exec(ns, ['iptables', '-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '--dport', '9', '-j', 'FOREIGN-CHAIN']);
    await topology.exec(ns, ['iptables', '-t', 'filter', '-A', 'FORWARD', '-s', '198.51.100.7', '-j', 'ACCEPT']);
  });
  afterEach(async () => {
    witness.remove();
    await topology.destroy();
  });

  const env = (backend: Backend) => routerEnv({ EGRESS_DESTINATION: SCENARIO.destinations, EGRESS_ROUTER_FIREWALL: backend });

  /** The router's rules in each backend, and everything else, to compare before and after. */
  async function rules(): Promise<{ nftables: boolean; iptables: string[]; foreign: string }> {
    const ns = topology.ns.router;
    const [chains, saved, foreignTable] = await Promise.all([
      topology.exec(ns, ['nft', 'list', 'chains', 'ip']),
      topology.exec(ns, ['iptables-save']),
      topology.exec(ns, ['nft', 'list', 'table', 'ip', 'foreign']),
    ]);
    const lines = saved.split('\n').filter((l) => !l.startsWith('#'));
    return {
      nftables: chains.includes('table ip egress_router {'),
      iptables: lines.filter((l) => l.includes('EGRESS-ROUTER-')),
      foreign: [foreignTable.replace(/packets \d+ bytes \d+/g, 'packets N bytes N'), ...lines.filter((l) => !l.includes('EGRESS-ROUTER-'))]
        .join('\n')
        .replace(/\[\d+:\d+\]/g, '[N:N]'),
    };
  }

  async function expectTraffic(): Promise<void> {
    const results = await topology.probe(SCENARIO.targets);
    expect(results.map((r) => r.reply ?? r.error)).toEqual(SCENARIO.replies);
  }

  for (const [from, to] of [['nftables', 'iptables'], ['iptables', 'nftables']] as const) {
    it(`switching from ${from} to ${to} leaves only the ${to} rules, loaded before the ${from} rules went, and nothing foreign touched`, async () => {
      const first = await topology.runRouter(env(from));
      expect(first.stderr).toBe('');
      expect(first.exitCode).toBe(0);
      const before = await rules();
      expect(before.nftables).toBe(from === 'nftables');
      expect(before.iptables.length > 0).toBe(from === 'iptables');
      await expectTraffic();

      const dryRun = await topology.runRouter(env(to), ['--dry-run']);
      expect(dryRun.stdout).toContain(`# remove the ${from === 'nftables' ? 'nftables table' : 'iptables rules'} of an earlier run (backend switch)`);

      const second = await topology.runRouter(env(to), [], { path: witness.path });
      expect(second.stderr).toBe('');
      expect(second.exitCode).toBe(0);
      const after = await rules();
      expect(after.nftables).toBe(to === 'nftables');
      expect(after.iptables.length > 0).toBe(to === 'iptables');
      expect(after.foreign).toBe(before.foreign);
      // When the removal started, the new ruleset was in place (a count of its rules or tables).
      const removal = witness.seen(from === 'nftables' ? 'nft' : 'iptables-restore');
      expect(removal).toHaveLength(1);
      expect(Number(removal[0])).toBeGreaterThan(0);
      await expectTraffic();

      // The switch is done: the next run has nothing of the old backend to remove.
      const again = await topology.runRouter(env(to), ['--dry-run']);
      expect(again.stdout).not.toContain('backend switch');
    });
  }

  it('removes nothing and runs no removal command when the backend stays the same', async () => {
    for (let run = 0; run < 2; run++) {
      const result = await topology.runRouter(env('nftables'), [], { path: witness.path });
      expect(result.exitCode).toBe(0);
    }
    expect(witness.seen('iptables-restore')).toEqual([]);
    expect(witness.seen('nft')).toEqual(['0', '0']);
    expect((await rules()).iptables).toEqual([]);
    await expectTraffic();
  });
});
