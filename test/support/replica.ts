/** One replica's router process in the failover tests, and the clocks and checks around it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';

export const monotonicNs = (): bigint => process.hrtime.bigint();
export const msBetween = (from: bigint, to: bigint): number => Number(to - from) / 1e6;

/**
 * CLOCK_REALTIME minus CLOCK_MONOTONIC, in ns, read once: turns the wall-clock times of the
 * router's log (pino's `time`: Date.now(), in ms) into the monotonic clock the clients and the
 * tests measure with. Read at the moment Date.now() ticks over to a new millisecond (a spin of at
 * most 1 ms), so the offset is exact to microseconds; the log's millisecond is the precision left.
 */
const REALTIME_OFFSET_NS = ((): bigint => {
  const first = Date.now();
  let now = first;
  let mono = process.hrtime.bigint();
  while (now === first) {
    mono = process.hrtime.bigint();
    now = Date.now();
  }
  return BigInt(now) * 1_000_000n - mono;
})();

/** The monotonic time (ns) of a pino `time` (ms since the epoch, floored): the middle of that ms. */
export const monotonicFromLogTime = (timeMs: number): bigint => BigInt(timeMs) * 1_000_000n + 500_000n - REALTIME_OFFSET_NS;

/** One role change as the router logs it: `{"role":"MASTER","previous":"BACKUP",...,"msg":"VRRP role MASTER"}`. */
interface RoleLine {
  time: number;
  role: string;
  previous: string;
  msg: string;
}

function roleLines(stdout: string): RoleLine[] {
  const lines: RoleLine[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.includes('"msg":"VRRP role ')) continue;
    try {
      const entry = JSON.parse(line) as RoleLine;
      if (entry.msg === `VRRP role ${entry.role}`) lines.push(entry);
    } catch {
      // a partial line: the rest is on its way
    }
  }
  return lines;
}

/** A running replica: the router (`node dist/egress-router.js`, legacy mode, failover on) of one pod. */
export class Replica {
  private stderr = '';

  constructor(readonly index: number, readonly child: ResultPromise, readonly workDir: string, private readonly printed: () => string) {
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-3000)));
  }

  /** Every role the router logged, with its CLOCK_MONOTONIC time (from the log line's `time`). */
  get roles(): { role: string; previous: string; at: bigint }[] {
    return roleLines(this.printed()).map((l) => ({ role: l.role, previous: l.previous, at: monotonicFromLogTime(l.time) }));
  }

  /** Everything the router printed on stdout: its log, one JSON object a line. */
  get log(): string {
    return this.printed();
  }

  get role(): string | undefined {
    return this.roles.at(-1)?.role;
  }

  /** Resolves with the time of the first `role` reported after `after`, or rejects after `timeoutMs`. */
  async waitForRole(role: string, timeoutMs = 10_000, after = 0n): Promise<bigint> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.roles.find((r) => r.role === role && r.at > after);
      if (found) return found.at;
      if (performance.now() > deadline) {
        throw new Error(`replica ${this.index}: no ${role} within ${timeoutMs} ms (roles: ${this.roles.map((r) => r.role).join(' ')}; log: ${this.logTail()})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Resolves once the router has logged a line containing `text`, or rejects after `timeoutMs`. */
  async waitForLog(text: string, timeoutMs = 5000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.printed().includes(text)) {
      if (performance.now() > deadline) throw new Error(`replica ${this.index}: no ${JSON.stringify(text)} logged within ${timeoutMs} ms (log: ${this.logTail()})`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Kills the replica as the kernel ends a container whose main process dies: every process at
   * once with SIGKILL, keepalived's VRRP process first, so that nothing can clean up.
   */
  killContainer(): void {
    for (const pid of this.keepalivedPids().reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.child.kill('SIGKILL');
  }

  /** The end of what the router printed (its log on stdout, problems on stderr), for failure messages. */
  logTail(): string {
    return `${this.printed().slice(-1500)}${this.stderr ? `\nstderr: ${this.stderr.slice(-1000)}` : ''}`;
  }

  /** keepalived's processes (the main one and its VRRP child), from their pid files. */
  keepalivedPids(): number[] {
    return ['keepalived.pid', 'keepalived-vrrp.pid'].flatMap((file) => {
      try {
        return [Number(readFileSync(join(this.workDir, file), 'utf8').trim())];
      } catch {
        return [];
      }
    });
  }
}

export interface ClientResult {
  ok: boolean;
  /** CLOCK_MONOTONIC ns: the service was back (the first of ten successful connections in a row). */
  at?: string;
  /** The first successful connection of all, possibly through a path that then failed. */
  firstSuccessAt?: string;
  reply?: string;
  attempts: number;
  failures: number;
}

/** Whether a process runs (a zombie waiting for its reaper does not). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
