/**
 * Timed runs of the router (and of the legacy model) inside a namespace, and the idle
 * legacy-mode process. Wall time is taken by bench/timed-run.mjs inside the namespace, from
 * spawn to exit; peak RSS by bench/rss-report.mjs preloaded into the router's node process.
 */
import { execa } from 'execa';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENTRY, ROOT } from '../test/support/topology.js';
import { waitForOutput } from '../test/support/output.js';
import { memoryKb } from './proc.js';

const TIMED_RUN = `${ROOT}/bench/timed-run.mjs`;
const RSS_REPORT = `${ROOT}/bench/rss-report.mjs`;
export const LEGACY_MODEL = `${ROOT}/bench/legacy-model.sh`;
const GNU_TIME = '/usr/bin/time';

export const hasGnuTime = (): boolean => existsSync(GNU_TIME);

/** The router under test: the built CLI, or the private copy `useCopyOfBuild` made. */
let entry = ENTRY;

/**
 * Runs the router from a copy of dist/ in `dir`, so that a build started elsewhere during the
 * benchmark (it replaces dist/ whole) cannot pull the program away mid-run.
 */
export function useCopyOfBuild(dir: string): void {
  const copy = join(dir, 'dist');
  cpSync(join(ROOT, 'dist'), copy, { recursive: true });
  entry = join(copy, 'egress-router.js');
}

export interface TimedRun {
  /** Spawn to exit, in milliseconds. */
  ms: number;
  /** Peak RSS of the router's node process (VmHWM), in kB, when asked for. */
  nodePeakKb?: number;
  /** Peak RSS of the process and every child it waited for (nft among them), per GNU time. */
  treePeakKb?: number;
  stdout: string;
}

/** The router's entry file: the built CLI, or the private copy. */
export const routerEntry = (): string => entry;

/** How to run the router: bare, or with its peak memory reported. */
export function routerCommand(options: { rss?: boolean } = {}): string[] {
  if (!options.rss) return [process.execPath, entry];
  const node = [process.execPath, '--import', RSS_REPORT, entry];
  return hasGnuTime() ? [GNU_TIME, '-f', 'bench-tree-rss %M', ...node] : node;
}

/** Runs `command` in `ns` with exactly `env` (plus PATH); throws unless it exits 0. */
export async function timedRun(ns: string, env: Record<string, string>, command: string[]): Promise<TimedRun> {
  const result = await execa('ip', ['netns', 'exec', ns, process.execPath, TIMED_RUN, ...command], {
    env: { PATH: process.env.PATH ?? '', ...env },
    extendEnv: false,
    reject: false,
    timeout: 120_000,
  });
  if (result.exitCode !== 0) throw new Error(`timed run failed: ${result.stderr || result.message}`);
  const run = JSON.parse(result.stdout) as { ms: number; exitCode: number | string | null; stdout: string; stderr: string };
  const problems: string[] = [];
  const timed: TimedRun = { ms: run.ms, stdout: run.stdout };
  for (const line of run.stderr.split('\n')) {
    const match = /^bench-(rss|tree-rss) (\d+)$/.exec(line);
    if (match?.[1] === 'rss') timed.nodePeakKb = Number(match[2]);
    else if (match?.[1] === 'tree-rss') timed.treePeakKb = Number(match[2]);
    else if (line.trim() !== '') problems.push(line);
  }
  if (run.exitCode !== 0) {
    throw new Error(`${command.join(' ')} exited ${run.exitCode}: ${problems.slice(0, 5).join('\n') || run.stdout.slice(-500)}`);
  }
  return timed;
}

export interface IdleProcess {
  /** Resident set after start-up, in kB. */
  rssKb: number;
  /** Peak resident set since start, in kB. */
  peakKb: number;
  /** From SIGTERM to exit, in milliseconds. */
  stopMs: number;
}

/**
 * Starts the router in legacy mode, waits for "egress router ready" and a moment of idleness,
 * reads its memory from /proc, then stops it with SIGTERM.
 */
export async function idleLegacyProcess(ns: string, env: Record<string, string>): Promise<IdleProcess> {
  // `ip netns exec` execs node in place, so the child's pid is the router's.
  const child = execa('ip', ['netns', 'exec', ns, process.execPath, entry], {
    env: { PATH: process.env.PATH ?? '', ...env, EGRESS_ROUTER_MODE: 'legacy' },
    extendEnv: false,
    reject: false,
  });
  try {
    await waitForOutput(child, 'egress router ready', 'legacy mode');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const pid = child.pid!;
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(entry)) throw new Error(`pid ${pid} is not the router`);
    const { rssKb, peakKb } = memoryKb(pid);
    const stopping = performance.now();
    child.kill('SIGTERM');
    const result = await child;
    const stopMs = performance.now() - stopping;
    if (result.exitCode !== 0) throw new Error(`legacy mode exited ${result.exitCode} on SIGTERM: ${result.stderr}`);
    return { rssKb, peakKb, stopMs };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.allSettled([child]);
  }
}
