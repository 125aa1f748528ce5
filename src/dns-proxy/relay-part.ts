/**
 * The user-space relay as a part of the reconcile loop: it starts listening at the first sync,
 * takes a changed list at the next ones, and says what keeps it from serving. Names and health
 * are the relay's own watcher and checker: they feed the relay directly, connection by connection.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { HealthChecker } from '../health/checker.js';
import { tcpConnectCheck } from '../health/tcp-check.js';
import type { LivePart, PartSync } from '../live/controller.js';
import { podResolver } from '../names/resolver.js';
import { DEFAULT_BACKOFF } from '../names/schedule.js';
import { NameWatcher } from '../names/watcher.js';
import type { ReadFile } from '../config/config.js';
import { proxyNames } from './destinations.js';
import { RELAY_OWNER, type Relay, startDnsProxyRelay } from './relay.js';
import type { DnsProxySettings } from './settings.js';

/** How long start-up waits for the names' first lookups before it listens anyway. */
const FIRST_LOOKUP_WAIT_MS = 5000;
/** How long open connections may go on after SIGTERM. */
export const STOP_GRACE_MS = 5000;

export class DnsRelayPart implements LivePart<DnsProxySettings> {
  private watcher: NameWatcher | undefined;
  private readonly health: HealthChecker;
  private relay: Relay | undefined;
  private running = '';

  constructor(private readonly options: { readFile: ReadFile; log: Logger; registry: Registry }) {
    this.health = new HealthChecker({ connect: tcpConnectCheck, log: options.log });
  }

  private watcherFor(settings: DnsProxySettings): NameWatcher {
    if (this.watcher) return this.watcher;
    const { resolver, conf } = podResolver(this.options.readFile, settings.resolvConf);
    if (conf.nameservers.length === 0) this.options.log.warn({ path: settings.resolvConf }, `no nameserver in ${settings.resolvConf}; using the system's default nameservers`);
    this.watcher = new NameWatcher({ resolver, family: settings.list.family, policy: { bounds: settings.ttl, backoff: DEFAULT_BACKOFF }, log: this.options.log });
    return this.watcher;
  }

  async prepare(settings: DnsProxySettings): Promise<void> {
    const watcher = this.watcherFor(settings);
    watcher.watch(proxyNames(settings.list), RELAY_OWNER);
    const late = await watcher.firstLookups(FIRST_LOOKUP_WAIT_MS);
    if (late.length > 0) this.options.log.warn({ names: late }, `no answer yet for ${late.join(', ')} after ${FIRST_LOOKUP_WAIT_MS / 1000} s; starting without`);
  }

  async sync(settings: DnsProxySettings): Promise<PartSync> {
    const key = JSON.stringify(settings.list);
    if (key === this.running) return { ok: true, changes: 0 };
    const watcher = this.watcherFor(settings);
    if (!this.relay) {
      const started = await startDnsProxyRelay(settings.list, { log: this.options.log, registry: this.options.registry, watcher, health: this.health, clusterInterface: settings.clusterInterface });
      if (!started.ok) return started;
      this.relay = started.value;
    } else {
      const updated = await this.relay.update(settings.list);
      if (!updated.ok) return updated;
    }
    this.running = key;
    return { ok: true, changes: settings.list.rules.length };
  }

  readiness(settings: DnsProxySettings): string[] {
    const reasons = this.relay ? [] : ['the relay is not listening yet'];
    for (const name of proxyNames(settings.list)) {
      const status = this.watcher?.current(name);
      if (!status?.resolved) reasons.push(`name ${name} has no answer yet${status?.error ? `: ${status.error}` : ''}`);
      else if (status.addresses.length === 0) reasons.push(`name ${name} has no address: ${status.error ?? 'empty answer'}`);
    }
    return reasons;
  }

  async stop(): Promise<void> {
    await this.relay?.stop(STOP_GRACE_MS);
    this.watcher?.stop();
    this.health.stop();
  }
}
