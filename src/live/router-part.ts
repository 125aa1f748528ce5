/**
 * The router as a part of the reconcile loop: the pod's network and firewall converged to the
 * configuration, the destination names' answers and health folded into the redirects, the source
 * announced when it (re)appears, and, with failover on, keepalived holding the source address.
 *
 * `elementsOnly` is the DNS proxy container's kernel path: the init container owns the network
 * and the table's static part, and this part only keeps the redirect elements in step.
 */
import type { Logger } from 'pino';
import type { Config, ReadFile } from '../config/config.js';
import { failoverReadiness } from '../failover/role.js';
import { type Failover, startFailover } from '../failover/supervisor.js';
import { type LocalPort, type Ruleset, rulesetFor } from '../firewall/ruleset.js';
import type { Registry } from 'prom-client';
import type { Problem } from '../problem.js';
import { announce } from '../system/announce.js';
import { droppedTargets } from '../firewall/stale-attempts.js';
import { forgetAttempts } from '../system/stale-attempts.js';
import type { LivePart, PartSync } from './controller.js';
import { type AppliedState, converge, convergeElements } from './converge.js';
import { DestinationNames, type NameSettings, namesOf } from './names.js';
import type { SyncKind } from './runner.js';

/** The legacy router announced the source twice: at once, and again 2 s later. */
const REANNOUNCE_AFTER_MS = 2000;
/** How long the first apply waits for the names' first answers. */
const FIRST_LOOKUP_WAIT_MS = 3000;

const nameSettings = (config: Config): NameSettings => ({ family: config.family, resolvConf: config.resolvConf, ttl: config.ttl });

/** Ports of the pod's own servers that no redirect, not even the fallback, may capture. */
export const localPortsOf = (config: Config): LocalPort[] => (config.statusPort ? [{ protocol: 'tcp', port: config.statusPort }] : []);

export interface RouterPartOptions {
  readFile: ReadFile;
  log: Logger;
  registry: Registry;
  /** Asks the loop for a sync: a name's answer, a server's health or the VRRP role changed. */
  trigger: () => void;
  elementsOnly?: boolean;
}

export class RouterPart implements LivePart<Config> {
  private applied: AppliedState | undefined;
  private readonly names: DestinationNames;
  private failover: Failover | undefined;
  /** The settings the running failover was started with; '' when it is off. */
  private failoverKey = '';
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly log: Logger;

  constructor(private readonly options: RouterPartOptions) {
    this.log = options.log;
    this.names = new DestinationNames({ readFile: options.readFile, log: options.log, onChange: options.trigger });
  }

  /** The first apply waits a little for the names, so that it does not start by refusing them. */
  async prepare(config: Config): Promise<void> {
    if (namesOf(config.destinations).length === 0) return;
    this.names.follow('redirects', config.destinations, nameSettings(config));
    const late = await this.names.firstLookups(FIRST_LOOKUP_WAIT_MS);
    if (late.length > 0) this.log.warn({ names: late }, `no answer yet for ${late.join(', ')}; their ports refuse connections until they resolve`);
  }

  /** The firewall as last applied: its backend and ruleset, for reading its counters. */
  appliedFirewall(): { backend: AppliedState['backend'] | undefined; ruleset: Ruleset | undefined } {
    return { backend: this.applied?.backend, ruleset: this.applied?.ruleset };
  }

  /** With failover, the role says whether this replica serves (MASTER) or stands by. */
  readyFields(): Record<string, unknown> {
    return this.failover ? { vrrpRole: this.failover.role } : {};
  }

  readiness(config: Config): string[] {
    const reasons = this.names.unresolved(config.destinations);
    if (config.failover) {
      const role = failoverReadiness(this.failover?.role ?? 'INIT');
      if (!role.ready) reasons.push(role.reason);
    }
    return reasons;
  }

  async sync(config: Config, kind: SyncKind): Promise<PartSync> {
    this.names.follow('redirects', config.destinations, nameSettings(config));
    const ruleset = rulesetFor(config, this.names.addressesOf, { localPorts: localPortsOf(config), healthy: this.names.healthy });
    const previous = this.applied;
    const result = this.options.elementsOnly
      ? await convergeElements(config, ruleset, previous, kind, this.log)
      : await converge(config, ruleset, previous, kind, this.log);
    this.applied = result.applied;
    if (!result.ok) return result;
    // A dead server's unanswered attempts would otherwise keep new SYNs going to it.
    await forgetAttempts(droppedTargets(previous?.ruleset, ruleset), config.family, this.log);
    if (result.announce.length > 0) await this.announce(config, result.announce, result.reannounce);
    const failoverProblem = await this.syncFailover(config);
    if (failoverProblem) return { ok: false, problems: [failoverProblem] };
    return { ok: true, changes: result.changes };
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    // A replica told to stop gives the address up first, so that another takes over at once.
    await this.failover?.stop();
    this.names.stop();
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
    const started = await startFailover(config.failover, { log: this.log, registry: this.options.registry, egressInterface: config.egressInterface, source: config.source });
    if (!started.ok) return started.problems[0];
    this.failover = started.value;
    this.failoverKey = key;
    // The supervisor logs each role change; here it only changes readiness.
    this.failover.onRoleChange(() => this.options.trigger());
    return undefined;
  }

  private async announce(config: Config, now: string[][], later: string[][]): Promise<void> {
    // A repeat still pending would announce a source this pod may no longer hold.
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await announce(now, config.egressInterface, this.log);
    const again = setTimeout(() => {
      this.timers.delete(again);
      void announce(later, config.egressInterface, this.log);
    }, REANNOUNCE_AFTER_MS);
    this.timers.add(again);
  }
}
