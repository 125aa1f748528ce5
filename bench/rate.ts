/**
 * New-connection rate through the router: several load generator processes (bench/loadgen.mjs)
 * in the client pod's namespace, each keeping a fixed number of short TCP connections in
 * flight. They stay up across measurements, so a round costs no process start, and they all
 * measure at once.
 */
import { execa, type ResultPromise } from 'execa';
import { createInterface } from 'node:readline';
import { ROOT } from '../test/support/topology.js';

/** Plain JavaScript, run by node as it is: the benchmark itself runs bundled, from elsewhere. */
const LOADGEN = `${ROOT}/bench/loadgen.mjs`;

export interface RateTarget {
  host: string;
  port: number;
  /** Text the reply must contain for a connection to count (the source address the server saw). */
  expect: string;
}

export interface RateOptions {
  /** Length of one measurement, in milliseconds. */
  ms: number;
  /** Connections in flight per process. */
  inFlight: number;
  /** At most this many connections per process and measurement. */
  max: number;
}

export interface RateSample {
  /** Successful connections per second, all processes together. */
  rate: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
}

interface WorkerResult {
  ok: number;
  failed: number;
  ms: number;
  errors: Record<string, number>;
}

class Worker {
  private readonly pending: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  private readonly ready: Promise<void>;
  private exited: Error | undefined;

  constructor(readonly child: ResultPromise) {
    const lines = createInterface({ input: child.stdout! });
    let onReady: () => void = () => undefined;
    let onExit: (error: Error) => void = () => undefined;
    this.ready = new Promise((resolve, reject) => {
      onReady = resolve;
      onExit = reject;
    });
    lines.on('line', (line) => {
      if (line === 'ready') onReady();
      else this.pending.shift()?.resolve(line);
    });
    void child.then((result) => {
      this.exited = new Error(`load generator exited (${result.exitCode ?? result.signal})`);
      onExit(this.exited);
      for (const p of this.pending.splice(0)) p.reject(this.exited);
    });
  }

  async measure(command: object): Promise<WorkerResult> {
    await this.ready;
    if (this.exited) throw this.exited;
    const reply = new Promise<string>((resolve, reject) => this.pending.push({ resolve, reject }));
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
    return JSON.parse(await reply) as WorkerResult;
  }
}

export class LoadGenerator {
  private constructor(private readonly workers: Worker[]) {}

  /** Starts `processes` load generators in namespace `ns`. */
  static async start(ns: string, processes: number): Promise<LoadGenerator> {
    const workers: Worker[] = [];
    for (let i = 0; i < processes; i++) {
      const child = execa('ip', ['netns', 'exec', ns, process.execPath, LOADGEN], { reject: false, stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' });
      workers.push(new Worker(child));
    }
    return new LoadGenerator(workers);
  }

  /** One measurement: every process connects to `target` for `options.ms` at once. */
  async measure(target: RateTarget, options: RateOptions): Promise<RateSample> {
    const command = { host: target.host, port: target.port, expect: target.expect, ms: options.ms, max: options.max, inFlight: options.inFlight };
    const results = await Promise.all(this.workers.map((w) => w.measure(command)));
    const errors: Record<string, number> = {};
    let ok = 0;
    let failed = 0;
    let rate = 0;
    for (const r of results) {
      ok += r.ok;
      failed += r.failed;
      rate += r.ok / (r.ms / 1000);
      for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
    }
    return { rate, ok, failed, errors };
  }

  async stop(): Promise<void> {
    for (const w of this.workers) w.child.stdin!.end();
    const timer = setTimeout(() => this.workers.forEach((w) => w.child.kill('SIGKILL')), 5000);
    await Promise.allSettled(this.workers.map((w) => w.child));
    clearTimeout(timer);
  }
}
