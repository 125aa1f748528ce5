/**
 * The long-running router: one reconcile loop that keeps the pod converged to its configuration.
 *
 * Desired state is a pure function of the inputs (environment and files), the names' current
 * answers and the health of their addresses; every trigger (a file change, SIGHUP, a DNS answer,
 * a health change, the periodic safety net) asks the one runner for a sync, and a sync applies
 * the difference. An invalid edit changes nothing: the running configuration stays, the problems
 * are logged with their file and line, and the metrics count the refusal.
 */
import type { Logger } from 'pino';
import type { Config, Environment, ReadFile } from '../config/config.js';
import { type LocalPort, type Ruleset, rulesetFor } from '../firewall/ruleset.js';
import { DestinationNames, type NameSettings, namesOf } from './names.js';
import { failoverReadiness } from '../failover/role.js';
import { type Failover, startFailover } from '../failover/supervisor.js';
import type { RouterMetrics } from '../observe/metrics.js';
import type { Readiness } from '../observe/status-server.js';
import { type Problem, formatProblem } from '../problem.js';
import { announce } from '../system/announce.js';
import { type AppliedState, converge } from './converge.js';
import { type Inputs, describeProblems, readInputs } from './inputs.js';
import { type SyncKind, SyncRunner } from './runner.js';
import { type FileWatch, watchFiles } from './watch.js';

/** The legacy router announced the source twice: at once, and again 2 s later. */
const REANNOUNCE_AFTER_MS = 2000;

/** How long the first apply waits for the names' first answers. */
const FIRST_LOOKUP_WAIT_MS = 3000;

const nameSettings = (config: Config): NameSettings => ({ family: config.family, resolvConf: config.resolvConf, ttl: config.ttl });

/** Ports of the pod's own servers that no redirect, not even the fallback, may capture. */
export const localPortsOf = (config: Config): LocalPort[] => (config.statusPort ? [{ protocol: 'tcp', port: config.statusPort }] : []);

export interface ControllerOptions {
  env: Environment;
  readFile: ReadFile;
  log: Logger;
  metrics: RouterMetrics;
  /** The configuration validated at start. */
  initial: Inputs;
  minSyncIntervalMs?: number;
  fullSyncEveryMs?: number;
  pollMs?: number;
}

/** Settings that only a restart changes: the process is already running in that shape. */
const RESTART_ONLY: readonly (keyof Config)[] = ['mode'];

export class RouterController {
  private inputs: Inputs;
  private applied: AppliedState | undefined;
  private syncProblems: Problem[] = [];
  private reloadWanted = false;
  private reloadToCount = false;
  /** When the oldest reload request not yet applied came in, for the log's `reloadMs`. */
  private reloadSince: number | undefined;
  private files: string[] = [];
  private watch: FileWatch | undefined;
  private readonly runner: SyncRunner;
  private readonly names: DestinationNames;
  private failover: Failover | undefined;
  /** The settings the running failover was started with; '' when it is off. */
  private failoverKey = '';
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly log: Logger;

  constructor(private readonly options: ControllerOptions) {
    this.inputs = options.initial;
    this.log = options.log;
    this.runner = new SyncRunner((kind) => this.sync(kind), {
      minIntervalMs: options.minSyncIntervalMs ?? 200,
      fullSyncEveryMs: options.fullSyncEveryMs ?? 60_000,
      onError: (error) => this.log.error({ error: String((error as Error)?.stack ?? error) }, 'reconcile failed unexpectedly'),
    });
    // A new answer or a server going down or up is one more trigger of the same loop.
    this.names = new DestinationNames({ readFile: options.readFile, log: options.log, onChange: () => this.runner.request('partial') });
    options.metrics.setConfigHash(this.inputs.hash);
  }

  /** The first sync; resolves once it has ended, converged or not (the runner keeps retrying). */
  async start(): Promise<boolean> {
    this.files = readInputs(this.options.env, this.options.readFile).files;
    this.watch = watchFiles(this.files, (path) => this.reload(`file ${path} changed`), { pollMs: this.options.pollMs });
    // The first apply waits a little for the names, so that it does not start by refusing them.
    const config = this.inputs.config;
    if (namesOf(config.destinations).length > 0) {
      this.names.follow('redirects', config.destinations, nameSettings(config));
      const late = await this.names.firstLookups(FIRST_LOOKUP_WAIT_MS);
      if (late.length > 0) this.log.warn({ names: late }, `no answer yet for ${late.join(', ')}; their ports refuse connections until they resolve`);
    }
    this.runner.request('full');
    await this.runner.idle();
    return this.applied !== undefined && this.syncProblems.length === 0;
  }

  /** Re-read the configuration (SIGHUP, a file change) and apply it if it is valid and new. */
  reload(why: string): void {
    this.log.info({ trigger: why }, 'reload requested');
    this.reloadWanted = true;
    this.reloadSince ??= performance.now();
    this.runner.request('partial');
  }

  get config(): Config {
    return this.inputs.config;
  }

  /** The firewall as last applied: its backend and ruleset, for reading its counters. */
  appliedFirewall(): { backend: AppliedState['backend'] | undefined; ruleset: Ruleset | undefined } {
    return { backend: this.applied?.backend, ruleset: this.applied?.ruleset };
  }

  /** Why the last reconcile did not converge (empty when it did). */
  problems(): Problem[] {
    return this.syncProblems;
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (!this.applied) reasons.push('the configuration has not been applied yet');
    if (this.syncProblems.length > 0) reasons.push(`the last reconcile failed: ${this.syncProblems.map(formatProblem).join('; ')}`);
    reasons.push(...this.names.unresolved(this.inputs.config.destinations));
    if (this.inputs.config.failover) {
      const role = failoverReadiness(this.failover?.role ?? 'INIT');
      if (!role.ready) reasons.push(role.reason);
    }
    return { ready: reasons.length === 0, reasons };
  }

  async stop(): Promise<void> {
    this.watch?.close();
    for (const timer of this.timers) clearTimeout(timer);
    await this.runner.stop();
    // A replica told to stop gives the address up first, so that another takes over at once.
    await this.failover?.stop();
    this.names.stop();
  }

  /** Re-reads the inputs; returns false if they were invalid (the running ones stay). */
  private reloadInputs(): void {
    const read = readInputs(this.options.env, this.options.readFile);
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
    for (const key of RESTART_ONLY) {
      if (JSON.stringify(next.config[key]) !== JSON.stringify(this.inputs.config[key])) {
        this.log.warn({ setting: key, running: this.inputs.config[key], new: next.config[key] }, 'this setting changes only when the router restarts; keeping the running value');
        (next.config as unknown as Record<string, unknown>)[key] = this.inputs.config[key];
      }
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

  private desiredRuleset(config: Config): Ruleset | undefined {
    this.names.follow('redirects', config.destinations, nameSettings(config));
    return rulesetFor(config, this.names.addressesOf, { localPorts: localPortsOf(config), healthy: this.names.healthy });
  }

  private async sync(kind: SyncKind): Promise<boolean> {
    const reloadSince = this.reloadWanted ? this.reloadSince : undefined;
    if (this.reloadWanted) {
      this.reloadWanted = false;
      this.reloadSince = undefined;
      this.reloadInputs();
    }
    const { metrics } = this.options;
    const config = this.inputs.config;
    const stopTimer = metrics.syncSeconds.startTimer({ kind });
    const result = await converge(config, this.desiredRuleset(config), this.applied, kind, this.log);
    stopTimer();
    metrics.syncs.inc({ kind, result: result.ok ? 'ok' : 'failed' });
    const counted = this.reloadToCount;
    this.reloadToCount = false;
    if (!result.ok) {
      this.applied = result.applied;
      this.syncProblems = result.problems;
      for (const p of result.problems) this.log.error({ kind }, formatProblem(p));
      if (counted) metrics.reloads.inc({ result: 'failed' });
      this.updateReady();
      return false;
    }
    const first = this.applied === undefined;
    this.applied = result.applied;
    this.syncProblems = [];
    if (first || counted) {
      metrics.lastGoodReload.set(Date.now() / 1000);
      metrics.setConfigHash(this.inputs.hash);
    }
    if (counted) {
      metrics.reloads.inc({ result: 'applied' });
      const reloadMs = reloadSince === undefined ? undefined : Math.round((performance.now() - reloadSince) * 10) / 10;
      this.log.info({ hash: this.inputs.hash, changes: result.changes, reloadMs }, 'reload applied');
    }
    if (result.announce.length > 0) await this.announce(config, result.announce, result.reannounce);
    const failoverProblem = await this.syncFailover(config);
    if (failoverProblem) {
      this.syncProblems = [failoverProblem];
      this.log.error(formatProblem(failoverProblem));
      this.updateReady();
      return false;
    }
    if (result.changes > 0 || first) {
      // With failover, the role says whether this replica serves (MASTER) or stands by.
      const role = this.failover ? { vrrpRole: this.failover.role } : {};
      this.log.info({ kind, changes: result.changes, hash: this.inputs.hash, rules: config.destinations?.redirects.length ?? 0, ...role }, first ? 'egress router ready' : 'reconciled');
    }
    this.updateReady();
    return true;
  }

  /**
   * Runs keepalived once the firewall (with its VRRP exemption) and the routes are in place, and
   * restarts it when its settings, the source or the interface change.
   */
  private async syncFailover(config: Config): Promise<Problem | undefined> {
    const key = config.failover ? JSON.stringify([config.failover, config.source, config.egressInterface]) : '';
    if (key === this.failoverKey) return undefined;
    await this.failover?.stop();
    this.failover = undefined;
    this.failoverKey = '';
    if (!config.failover) return undefined;
    const started = await startFailover(config.failover, { log: this.log, registry: this.options.metrics.registry, egressInterface: config.egressInterface, source: config.source });
    if (!started.ok) return started.problems[0];
    this.failover = started.value;
    this.failoverKey = key;
    // The supervisor logs each role change; here it only changes readiness.
    this.failover.onRoleChange(() => this.updateReady());
    return undefined;
  }

  private async announce(config: Config, now: string[][], later: string[][]): Promise<void> {
    await announce(now, config.egressInterface, this.log);
    const again = setTimeout(() => {
      this.timers.delete(again);
      void announce(later, config.egressInterface, this.log);
    }, REANNOUNCE_AFTER_MS);
    this.timers.add(again);
  }

  private updateReady(): void {
    this.options.metrics.ready.set(this.readiness().ready ? 1 : 0);
  }
}
