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
import { memoryKb } from './proc.js';
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
  /** The router's resident memory just before each reload: what the reload's peak is measured against. */
  beforeNodeKb: number[];
}

/** Issue 11's target: one changed line in 100,000 rules applied in under half a second. */
export const RELOAD_TARGET_MS = 500;
/** "Peak memory well under a full apply's": the reload's extra memory below a quarter of the full apply's peak. */
export const RELOAD_MEMORY_FRACTION = 0.25;

// The benchmark lists use every port from 1024 up, 9552 included: the status endpoint moves below them.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const vmHwmKb = (pid: number): number => memoryKb(pid).peakKb;

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

export async function measureReload(backend: 'nftables' | 'iptables', size: number, rounds: number, entry = ENTRY): Promise<ReloadRow> {
  const topology = await Topology.create();
  const scratch = mkdtempSync(join(tmpdir(), 'egress-router-reload-'));
  const tools = toolWrappers(scratch);
  const rules = benchRules(size, ADDRESSES.destinations);
  const configMap = new ConfigMapDir({ destinations: destinationList(rules) });
  let router: ReturnType<typeof execa> | undefined;
  try {
    await topology.startServers(topology.ns.lan, ADDRESSES.destinations.map((d) => `tcp:${d}:80`));
    const started = performance.now();
    router = execa('ip', ['netns', 'exec', topology.ns.router, process.execPath, entry], {
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
      beforeNodeKb: [],
    };
    for (let round = 0; round < rounds; round++) {
      // Let the start's garbage go before the high-water mark is reset.
      await sleep(500);
      writeFileSync(`/proc/${router.pid}/clear_refs`, '5');
      row.beforeNodeKb.push(memoryKb(router.pid!).rssKb);
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

/** The reload's memory: the router's peak over its resident size just before, plus the tool's peak. */
const reloadExtraKb = (r: ReloadRow): number => median(r.reloadNodeKb.map((peak, i) => peak - r.beforeNodeKb[i]!)) + median(r.reloadToolKb);
const fullPeakKb = (r: ReloadRow): number => r.fullNodeKb + r.fullToolKb;

export function reloadTable(rows: ReloadRow[]): string {
  return markdownTable(
    ['backend', 'rules', 'full apply: ms', 'full apply: peak MB (router + tool)', 'reload: ms (router)', 'reload: ms (a client sees it)', 'reload: peak MB (router + tool)', 'reload: extra MB (router + tool)'],
    rows.map((r) => [
      r.backend,
      int(r.rules),
      int(r.fullApplyMs),
      `${mb(fullPeakKb(r))} (${mb(r.fullNodeKb)} + ${mb(r.fullToolKb)})`,
      int(median(r.reloadMs)),
      int(median(r.wallMs)),
      `${mb(median(r.reloadNodeKb) + median(r.reloadToolKb))} (${mb(median(r.reloadNodeKb))} + ${mb(median(r.reloadToolKb))})`,
      mb(reloadExtraKb(r)),
    ]),
  );
}

export interface ReloadSection {
  markdown: string;
  checks: { name: string; value: string; pass: boolean }[];
}

/**
 * The section of `npm run bench`: both backends at `size` rules (100,000 in a full run), the
 * targets read on the nftables backend, the default; the iptables backend is reported beside it.
 */
export async function benchReload(size: number, rounds: number, options: { entry: string; progress: (text: string) => void }): Promise<ReloadSection> {
  const rows: ReloadRow[] = [];
  for (const backend of ['nftables', 'iptables'] as const) {
    rows.push(await measureReload(backend, size, rounds, options.entry));
    options.progress(`reload, ${backend}, ${int(size)} rules: ${int(median(rows.at(-1)!.reloadMs))} ms`);
  }
  const nft = rows[0]!;
  const ms = median(nft.reloadMs);
  const extra = reloadExtraKb(nft);
  const markdown = [
    `## Reload: one changed line in a ${int(size)}-rule ConfigMap list (legacy mode, median of ${rounds})\n`,
    reloadTable(rows),
    '',
    'The router notices the `..data` swap through inotify, validates the whole list, and applies the one changed map element',
    '(nftables) or rule (iptables); "a client sees it" is the swap until a new connection reaches the new destination. Peak memory',
    'is the router\'s high-water mark during the reload (reset just before) and the firewall tool\'s; "extra" is the router\'s peak',
    'over its resident size just before, plus the tool\'s.',
  ].join('\n');
  return {
    markdown,
    checks: [
      { name: `reload of one changed line in ${int(size)} rules (nftables) < ${RELOAD_TARGET_MS} ms`, value: `${int(ms)} ms`, pass: ms < RELOAD_TARGET_MS },
      {
        name: `reload's extra memory < ${RELOAD_MEMORY_FRACTION} x the full apply's peak (nftables)`,
        value: `${mb(extra)} MB vs ${mb(fullPeakKb(nft))} MB (${(extra / fullPeakKb(nft)).toFixed(3)})`,
        pass: extra < RELOAD_MEMORY_FRACTION * fullPeakKb(nft),
      },
    ],
  };
}
