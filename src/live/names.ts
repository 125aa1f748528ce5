/**
 * Destination names for the reconcile loop: one NameWatcher (answers, kept fresh by their TTLs)
 * and one HealthChecker (TCP checks of the answers' addresses), whose changes both feed the loop
 * as triggers. The loop reads the current answers and health as plain functions when it computes
 * the desired ruleset, so a sync always sees one consistent picture.
 */
import type { Logger } from 'pino';
import type { Family, IpAddress } from '../config/address.js';
import type { ReadFile } from '../config/config.js';
import type { DestinationList, Protocol } from '../config/destinations.js';
import { isHostName } from '../config/destinations.js';
import { HealthChecker, type HealthTarget } from '../health/checker.js';
import { tcpConnectCheck } from '../health/tcp-check.js';
import { podResolver } from '../names/resolver.js';
import { DEFAULT_BACKOFF, type TtlBounds } from '../names/schedule.js';
import { NameWatcher } from '../names/watcher.js';

export interface NameSettings {
  family: Family;
  resolvConf: string;
  ttl: TtlBounds;
}

/** The names a destination list mentions, each once. */
export function namesOf(list: DestinationList | undefined): string[] {
  if (!list) return [];
  const names = new Set<string>();
  for (const r of list.redirects) if (isHostName(r.target)) names.add(r.target.name);
  if (list.fallback && isHostName(list.fallback.target)) names.add(list.fallback.target.name);
  return [...names];
}

export class DestinationNames {
  private watcher: NameWatcher | undefined;
  private settingsKey = '';
  private readonly health: HealthChecker;

  constructor(private readonly options: { readFile: ReadFile; log: Logger; onChange: () => void }) {
    this.health = new HealthChecker({ connect: tcpConnectCheck, log: options.log });
    this.health.onChange(() => options.onChange());
  }

  /** The watcher for these settings; a new one (names looked up again) if they changed. */
  private watcherFor(settings: NameSettings): NameWatcher {
    const key = JSON.stringify(settings);
    if (this.watcher && key === this.settingsKey) return this.watcher;
    this.watcher?.stop();
    const { resolver } = podResolver(this.options.readFile, settings.resolvConf);
    this.watcher = new NameWatcher({ resolver, family: settings.family, policy: { bounds: settings.ttl, backoff: DEFAULT_BACKOFF }, log: this.options.log });
    this.watcher.onChange(() => this.options.onChange());
    this.settingsKey = key;
    return this.watcher;
  }

  /**
   * Follows the names of `list` (under `owner`), and health-checks the current addresses of those
   * its TCP rules send connections to. Call on every sync: both sets follow the list and the answers.
   */
  follow(owner: string, list: DestinationList | undefined, settings: NameSettings): void {
    const names = namesOf(list);
    if (names.length === 0 && !this.watcher) return;
    const watcher = this.watcherFor(settings);
    watcher.watch(names, owner);
    const targets: HealthTarget[] = [];
    for (const r of list?.redirects ?? []) {
      // TCP checks say nothing about a UDP or SCTP service.
      if (!isHostName(r.target) || r.protocol !== 'tcp') continue;
      for (const address of watcher.current(r.target.name)?.addresses ?? []) targets.push({ address, port: r.targetPort });
    }
    this.health.watch(targets, owner);
  }

  /** Resolves once every name followed had a first answer, or after `timeoutMs`; returns the late ones. */
  firstLookups(timeoutMs: number): Promise<string[]> {
    return this.watcher?.firstLookups(timeoutMs) ?? Promise.resolve([]);
  }

  readonly addressesOf = (name: string): readonly IpAddress[] | undefined => {
    const status = this.watcher?.current(name);
    return status?.resolved ? status.addresses : undefined;
  };

  readonly healthy = (address: IpAddress, protocol: Protocol, port: number): boolean =>
    protocol !== 'tcp' || this.health.isUp({ address, port });

  /** Why the names of `list` are not all usable yet, one line each. */
  unresolved(list: DestinationList | undefined): string[] {
    return namesOf(list).flatMap((name) => {
      const status = this.watcher?.current(name);
      if (!status || !status.resolved) return [`name ${name} has no answer yet${status?.error ? `: ${status.error}` : ''}`];
      if (status.addresses.length === 0) return [`name ${name} has no address: ${status.error ?? 'empty answer'}`];
      return [];
    });
  }

  stop(): void {
    this.watcher?.stop();
    this.health.stop();
  }
}
