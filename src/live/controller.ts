/**
 * The long-running side: one reconcile loop that keeps the pod converged to its configuration.
 *
 * Desired state is a pure function of the inputs (environment and files) and of what the parts
 * follow themselves (the names' answers, the health of their addresses, the VRRP role); every
 * trigger (a file change, SIGHUP, a DNS answer, a health change, the periodic safety net) asks the
 * one runner for a sync, and a sync lets each part apply its difference. An invalid edit changes
 * nothing: the running configuration stays, the problems are logged with their file and line, and
 * the metrics count the refusal.
 *
 * The parts are what the process runs: the router (network, firewall, names, failover), the HTTP
 * proxy, the DNS proxy's relay. They share the loop, the reload, the status endpoint and the
 * metrics; none has a loop of its own.
 */
import type { Logger } from 'pino';
import type { Environment, ReadFile } from '../config/config.js';
import type { RouterMetrics } from '../observe/metrics.js';
import type { Readiness } from '../observe/status-server.js';
import { type Problem, type Result, formatProblem } from '../problem.js';
import { type Inputs, describeProblems, readInputs } from './inputs.js';
import { type SyncKind, SyncRunner } from './runner.js';
import { type FileWatch, watchFiles } from './watch.js';

export type PartSync = { ok: true; changes: number } | { ok: false; problems: Problem[] };

/** One thing the process keeps converged to its settings `S`. */
export interface LivePart<S> {
  /** Once, before the first sync: time to prepare (the names' first answers, say). */
  prepare?(settings: S): Promise<void>;
  /** Brings the part in line with `settings`; a full sync re-reads what it may have missed. */
  sync(settings: S, kind: SyncKind): Promise<PartSync>;
  /** Why the part does not serve yet, one line each (none when it does). */
  readiness(settings: S): string[];
  /** What the start-up line should say about the part (the VRRP role, say). */
  readyFields?(): Record<string, unknown>;
  /** Stops what the part runs; the pod's configuration stays. */
  stop(): Promise<void>;
}

export interface ControllerOptions<S> {
  env: Environment;
  readFile: ReadFile;
  parse: (env: Environment, readFile: ReadFile) => Result<S>;
  log: Logger;
  metrics: RouterMetrics;
  /** The settings validated at start. */
  initial: Inputs<S>;
  /** The parts, given the function that asks the loop for a sync (their triggers). */
  parts: (trigger: () => void) => LivePart<S>[];
  /** Settings that only a restart changes: returns `next` with the running values put back, and their names. */
  keepRestartOnly?: (running: S, next: S) => { settings: S; kept: string[] };
  /** What the log says once the first sync converged. */
  readyMessage: string;
  minSyncIntervalMs?: number;
  fullSyncEveryMs?: number;
  pollMs?: number;
}

export class LiveController<S> {
  private inputs: Inputs<S>;
  private converged = false;
  private syncProblems: Problem[] = [];
  private reloadWanted = false;
  private reloadToCount = false;
  /** When the oldest reload request not yet applied came in, for the log's `reloadMs`. */
  private reloadSince: number | undefined;
  private files: string[] = [];
  private watch: FileWatch | undefined;
  private readonly runner: SyncRunner;
  private readonly parts: LivePart<S>[];
  private readonly log: Logger;

  constructor(private readonly options: ControllerOptions<S>) {
    this.inputs = options.initial;
    this.log = options.log;
    this.runner = new SyncRunner((kind) => this.sync(kind), {
      minIntervalMs: options.minSyncIntervalMs ?? 200,
      fullSyncEveryMs: options.fullSyncEveryMs ?? 60_000,
      onError: (error) => this.log.error({ error: String((error as Error)?.stack ?? error) }, 'reconcile failed unexpectedly'),
    });
    this.parts = options.parts(() => this.runner.request('partial'));
    options.metrics.setConfigHash(this.inputs.hash);
  }

  /** The first sync; resolves once it has ended, converged or not (the runner keeps retrying). */
  async start(): Promise<boolean> {
    this.files = readInputs(this.options.env, this.options.readFile, this.options.parse).files;
    this.watch = watchFiles(this.files, (path) => this.reload(`file ${path} changed`), { pollMs: this.options.pollMs });
    for (const part of this.parts) await part.prepare?.(this.inputs.config);
    this.runner.request('full');
    await this.runner.idle();
    return this.converged;
  }

  /** Re-read the configuration (SIGHUP, a file change) and apply it if it is valid and new. */
  reload(why: string): void {
    this.log.info({ trigger: why }, 'reload requested');
    this.reloadWanted = true;
    this.reloadSince ??= performance.now();
    this.runner.request('partial');
  }

  get settings(): S {
    return this.inputs.config;
  }

  /** Why the last reconcile did not converge (empty when it did). */
  problems(): Problem[] {
    return this.syncProblems;
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (!this.converged && this.syncProblems.length === 0) reasons.push('the configuration has not been applied yet');
    if (this.syncProblems.length > 0) reasons.push(`the last reconcile failed: ${this.syncProblems.map(formatProblem).join('; ')}`);
    for (const part of this.parts) reasons.push(...part.readiness(this.inputs.config));
    return { ready: reasons.length === 0, reasons };
  }

  /** Asks for a sync, for a part whose own state changed (a role, a listener). */
  trigger(): void {
    this.runner.request('partial');
    this.updateReady();
  }

  async stop(): Promise<void> {
    this.watch?.close();
    await this.runner.stop();
    for (const part of this.parts) await part.stop();
  }

  private reloadInputs(): void {
    const read = readInputs(this.options.env, this.options.readFile, this.options.parse);
    this.refreshWatch(read.files);
    const { metrics } = this.options;
    if (!read.result.ok) {
      metrics.reloads.inc({ result: 'invalid' });
      this.log.error({ problems: describeProblems(read.result.problems) }, 'new configuration refused; the running configuration stays');
      for (const p of read.result.problems) this.log.error(formatProblem(p));
      return;
    }
    const next = read.result.value;
    if (next.hash === this.inputs.hash) {
      metrics.reloads.inc({ result: 'unchanged' });
      this.log.debug({ hash: next.hash }, 'configuration unchanged');
      return;
    }
    const kept = this.options.keepRestartOnly?.(this.inputs.config, next.config);
    if (kept) {
      next.config = kept.settings;
      for (const setting of kept.kept) this.log.warn({ setting }, `${setting} changes only when the process restarts; keeping the running value`);
    }
    this.log.info({ hash: next.hash, previous: this.inputs.hash }, 'new configuration accepted');
    this.inputs = next;
    this.reloadToCount = true;
  }

  private refreshWatch(files: string[]): void {
    if (JSON.stringify(files) === JSON.stringify(this.files)) return;
    this.watch?.close();
    this.files = files;
    this.watch = watchFiles(files, (path) => this.reload(`file ${path} changed`), { pollMs: this.options.pollMs });
  }

  private async sync(kind: SyncKind): Promise<boolean> {
    const reloadSince = this.reloadWanted ? this.reloadSince : undefined;
    if (this.reloadWanted) {
      this.reloadWanted = false;
      this.reloadSince = undefined;
      this.reloadInputs();
    }
    const { metrics } = this.options;
    const settings = this.inputs.config;
    const stopTimer = metrics.syncSeconds.startTimer({ kind });
    const problems: Problem[] = [];
    let changes = 0;
    for (const part of this.parts) {
      const result = await part.sync(settings, kind);
      if (result.ok) changes += result.changes;
      else problems.push(...result.problems);
    }
    stopTimer();
    metrics.syncs.inc({ kind, result: problems.length === 0 ? 'ok' : 'failed' });
    const counted = this.reloadToCount;
    this.reloadToCount = false;
    this.syncProblems = problems;
    if (problems.length > 0) {
      for (const p of problems) this.log.error({ kind }, formatProblem(p));
      if (counted) metrics.reloads.inc({ result: 'failed' });
      this.updateReady();
      return false;
    }
    const first = !this.converged;
    this.converged = true;
    if (first || counted) {
      metrics.lastGoodReload.set(Date.now() / 1000);
      metrics.setConfigHash(this.inputs.hash);
    }
    if (counted) {
      metrics.reloads.inc({ result: 'applied' });
      const reloadMs = reloadSince === undefined ? undefined : Math.round((performance.now() - reloadSince) * 10) / 10;
      this.log.info({ hash: this.inputs.hash, changes, reloadMs }, 'reload applied');
    }
    if (first) {
      const fields = Object.assign({}, ...this.parts.map((part) => part.readyFields?.() ?? {}));
      this.log.info({ hash: this.inputs.hash, changes, ...fields }, this.options.readyMessage);
    }
    else if (changes > 0) this.log.info({ kind, changes, hash: this.inputs.hash }, 'reconciled');
    this.updateReady();
    return true;
  }

  private updateReady(): void {
    this.options.metrics.ready.set(this.readiness().ready ? 1 : 0);
  }
}
