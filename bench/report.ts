/** Statistics, number formatting, markdown tables and the machine description for the benchmark. */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
export const fixed = (n: number, digits: number): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
export const mb = (kb: number | undefined): string => (kb === undefined ? '-' : (kb / 1024).toFixed(1));

/** Median with the spread of the samples, e.g. `4,210 (3,980-4,400)`. */
export function withSpread(values: readonly number[]): string {
  if (values.length < 2) return int(values[0] ?? NaN);
  return `${int(median(values))} (${int(Math.min(...values))}-${int(Math.max(...values))})`;
}

export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function version(argv: string[]): Promise<string> {
  const result = await execa(argv[0]!, argv.slice(1), { reject: false });
  return result.failed ? 'not found' : result.stdout.split('\n')[0]!.trim();
}

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  nft: string;
  iptables: string;
}

export async function describeMachine(): Promise<Machine> {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // keep what os.cpus() said
  }
  return {
    cpu,
    cores: os.cpus().length,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nft: await version(['nft', '--version']),
    iptables: await version(['iptables', '--version']),
  };
}

export const loadAverage = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');
