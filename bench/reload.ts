/**
 * The reload benchmark (issue 11): a legacy-mode router follows a ConfigMap-mounted list of N
 * rules; one line of it changes (a kubelet-style `..data` swap); how long until the change is in
 * the kernel, and how much memory did it take, next to the full apply the router did at start?
 *
 * - reload ms: the router's own `reloadMs` (from noticing the change to the kernel having it),
 *   and the wall time seen from outside (the swap until a new connection follows the change);
 * - memory: the router's peak RSS during the reload (its high-water mark is reset just before,
 *   through /proc/<pid>/clear_refs) and the peak RSS of each `nft`/`iptables-restore` it ran
 *   (through a PATH wrapper timed by GNU time), next to the same at the full apply.
 */
import { execa } from 'execa';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ConfigMapDir } from '../test/support/configmap.js';
import { waitForOutput } from '../test/support/output.js';
import { ADDRESSES, ENTRY, Topology, routerEnv } from '../test/support/topology.js';
import { realTool } from '../test/fixtures/tool-wrappers.js';
import { type BenchRule, benchRules, destinationList } from './lists.js';
import { int, markdownTable, mb, median } from './report.js';

export interface ReloadRow {
  backend: 'nftables' | 'iptables';
  rules: number;
  fullApplyMs: number;
  fullNodeKb: number;
  fullToolKb: number;
  reloadMs: number[];
  wallMs: number[];
  reloadNodeKb: number[];
  reloadToolKb: number[];
}

// The benchmark lists use every port from 1024 up, 9552 included: the status endpoint moves below them.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function vmHwmKb(pid: number): number {
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** PATH wrappers that log the peak RSS of every firewall tool run, one number per line. */
function toolWrappers(dir: string): { path: string; log: string; peaks: () => number[] } {
  const log = join(dir, 'tool-rss.log');
  for (const tool of ['nft', 'iptables-restore']) {
    const path = join(dir, tool);
    writeFileSync(path, `#!/bin/sh\nexec /usr/bin/time -a -o '${log}' -f '%M' '${realTool(tool)}' "$@"\n`);
    chmodSync(path, 0o755);
  }
  writeFileSync(log, '');
  return {
    path: `${dir}${delimiter}${process.env.PATH ?? ''}`,
    log,
    peaks: () => readFileSync(log, 'utf8').split('\n').filter((l) => /^\d+$/.test(l)).map(Number),
  };
}

/** The list with rule `index` sent to another destination; returns its port and the new target. */
function changedList(rules: BenchRule[], index: number, round: number): { text: string; port: number; target: string } {
  const targets = ADDRESSES.destinations;
  const rule = rules[index]!;
  const target = targets[(targets.indexOf(rule.target as (typeof targets)[number]) + 1 + round) % targets.length]!;
  const changed = rules.map((r, i) => (i === index ? { ...r, target } : r));
  return { text: destinationList(changed), port: rule.port, target };
}

export async function measureReload(backend: 'nftables' | 'iptables', size: number, rounds: number): Promise<ReloadRow> {
  const topology = await Topology.create();
  const scratch = mkdtempSync(join(tmpdir(), 'egress-router-reload-'));
  const tools = toolWrappers(scratch);
  const rules = benchRules(size, ADDRESSES.destinations);
  const configMap = new ConfigMapDir({ destinations: destinationList(rules) });
  let router: ReturnType<typeof execa> | undefined;
  try {
    await topology.startServers(topology.ns.lan, ADDRESSES.destinations.map((d) => `tcp:${d}:80`));
    const started = performance.now();
    router = execa('ip', ['netns', 'exec', topology.ns.router, process.execPath, ENTRY], {
      env: { PATH: tools.path, ...routerEnv({ EGRESS_ROUTER_MODE: 'legacy', EGRESS_DESTINATION_FILE: configMap.path('destinations'), EGRESS_ROUTER_FIREWALL: backend, EGRESS_ROUTER_STATUS_PORT: '1000' }) },
      extendEnv: false,
      reject: false,
    });
    const output = await waitForOutput(router, 'egress router ready', 'the router', 120_000);
    const row: ReloadRow = {
      backend,
      rules: size,
      fullApplyMs: performance.now() - started,
      fullNodeKb: vmHwmKb(router.pid!),
      fullToolKb: Math.max(...tools.peaks()),
      reloadMs: [],
      wallMs: [],
      reloadNodeKb: [],
      reloadToolKb: [],
    };
    for (let round = 0; round < rounds; round++) {
      // Let the start's garbage go before the high-water mark is reset.
      await sleep(500);
      writeFileSync(`/proc/${router.pid}/clear_refs`, '5');
      writeFileSync(tools.log, '');
      const applied = output().split('reload applied').length;
      const change = changedList(rules, Math.floor(size / 2) + round, round);
      rules[Math.floor(size / 2) + round] = { ...rules[Math.floor(size / 2) + round]!, target: change.target };
      const swapped = performance.now();
      configMap.update({ destinations: change.text });
      let followed = false;
      while (!followed && performance.now() - swapped < 30_000) {
        const [probe] = await topology.probe([`tcp:${ADDRESSES.pod}:${change.port}`], { timeoutMs: 500 });
        followed = probe?.reply === `${ADDRESSES.source} ${change.target}:80`;
        if (!followed) await sleep(20);
      }
      const wall = performance.now() - swapped;
      await waitForCount(output, 'reload applied', applied + 1);
      const line = output().split('\n').filter((l) => l.includes('reload applied')).at(-1) ?? '';
      row.reloadMs.push(Number(/"reloadMs":([\d.]+)/.exec(line)?.[1] ?? NaN));
      row.wallMs.push(followed ? wall : NaN);
      row.reloadNodeKb.push(vmHwmKb(router.pid!));
      row.reloadToolKb.push(Math.max(0, ...tools.peaks()));
    }
    return row;
  } finally {
    router?.kill('SIGTERM');
    await router;
    await topology.destroy();
    configMap.remove();
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function waitForCount(output: () => string, marker: string, count: number): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (output().split(marker).length < count && performance.now() < deadline) await sleep(10);
}

export function reloadTable(rows: ReloadRow[]): string {
  return markdownTable(
    ['backend', 'rules', 'full apply ms', 'full apply peak MB (router + tool)', 'reload ms (router)', 'reload ms (seen by a client)', 'reload peak MB (router + tool)', 'memory ratio'],
    rows.map((r) => {
      const full = r.fullNodeKb + r.fullToolKb;
      const reload = median(r.reloadNodeKb) + median(r.reloadToolKb);
      return [
        r.backend,
        int(r.rules),
        int(r.fullApplyMs),
        `${mb(full)} (${mb(r.fullNodeKb)} + ${mb(r.fullToolKb)})`,
        int(median(r.reloadMs)),
        int(median(r.wallMs)),
        `${mb(reload)} (${mb(median(r.reloadNodeKb))} + ${mb(median(r.reloadToolKb))})`,
        (reload / full).toFixed(2),
      ];
    }),
  );
}

/** Whether execa and GNU time are there for this part. */
export const reloadBenchAvailable = (): boolean => {
  try {
    return readFileSync('/usr/bin/time').length > 0 && Boolean(execa);
  } catch {
    return false;
  }
};
