/** One replica's router process in the failover tests, and the clocks and checks around it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';

export const monotonicNs = (): bigint => process.hrtime.bigint();
export const msBetween = (from: bigint, to: bigint): number => Number(to - from) / 1e6;

/** A running failover-node fixture: one replica's router process. */
export class Replica {
  private stderr = '';

  constructor(readonly index: number, readonly child: ResultPromise, readonly workDir: string, private readonly printed: () => string) {
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-3000)));
  }

  /** Every role the process reported, with its CLOCK_MONOTONIC time. */
  get roles(): { role: string; at: bigint }[] {
    return this.printed().split('\n').filter((line) => line.startsWith('role ')).map((line) => {
      const [, role, at] = line.split(' ');
      return { role: role!, at: BigInt(at!) };
    });
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
        throw new Error(`replica ${this.index}: no ${role} within ${timeoutMs} ms (roles: ${this.roles.map((r) => r.role).join(' ')}; log: ${this.stderrTail()})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
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

  /** The end of what the process logged (pino JSON lines), for failure messages. */
  stderrTail(): string {
    return this.stderr.slice(-1500);
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
