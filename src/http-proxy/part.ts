/**
 * The HTTP proxy as a part of the reconcile loop: it starts serving at the first sync and takes
 * a changed access list at the next ones, for the requests decided from then on; requests in
 * flight finish under the rules they started with. The listening port, the caps and the timeouts
 * are fixed for the life of the process: a change of them is logged and waits for a restart.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ReadFile } from '../config/config.js';
import type { LivePart, PartSync } from '../live/controller.js';
import { podResolver } from '../names/resolver.js';
import { type HttpProxyService, startHttpProxy } from './server.js';
import type { HttpProxySettings } from './settings.js';

/** Everything but the rules: what a running proxy cannot take without a restart. */
const shape = (s: HttpProxySettings): string =>
  JSON.stringify([s.port, s.maxConnections, s.maxHeaderBytes, s.accessLog, s.timeouts, s.clusterInterface, s.resolvConf]);

export class HttpProxyPart implements LivePart<HttpProxySettings> {
  private proxy: HttpProxyService | undefined;
  private running: HttpProxySettings | undefined;

  constructor(private readonly options: { readFile: ReadFile; log: Logger; registry: Registry }) {}

  async sync(settings: HttpProxySettings): Promise<PartSync> {
    const { log } = this.options;
    if (!this.proxy) {
      for (const warning of settings.warnings) log.warn({ where: warning.where }, warning.message);
      const { resolver, conf } = podResolver(this.options.readFile, settings.resolvConf);
      if (conf.nameservers.length === 0) log.warn({ resolvConf: settings.resolvConf }, 'no nameserver in the resolver configuration; requests by name will fail');
      const started = await startHttpProxy(settings, { log, registry: this.options.registry, resolver });
      if (!started.ok) return started;
      this.proxy = started.value;
      this.running = settings;
      log.info(
        { listening: this.proxy.listening, rules: settings.rules.rules.length, otherwise: settings.rules.wildcardLine === undefined ? 'deny' : 'allow' },
        'http proxy ready',
      );
      return { ok: true, changes: 1 };
    }
    const running = this.running!;
    if (shape(settings) !== shape(running)) log.warn('the HTTP proxy\'s port, caps and timeouts change only when the process restarts; the new access list applies now');
    if (JSON.stringify(settings.rules) === JSON.stringify(running.rules)) return { ok: true, changes: 0 };
    for (const warning of settings.warnings) log.warn({ where: warning.where }, warning.message);
    this.proxy.updateRules(settings.rules);
    this.running = { ...running, rules: settings.rules, origin: settings.origin, warnings: settings.warnings };
    log.info({ rules: settings.rules.rules.length, otherwise: settings.rules.wildcardLine === undefined ? 'deny' : 'allow' }, 'http proxy access list updated');
    return { ok: true, changes: 1 };
  }

  readiness(): string[] {
    return this.proxy ? [] : ['the HTTP proxy is not listening yet'];
  }

  async stop(): Promise<void> {
    if (!this.proxy || !this.running) return;
    this.options.log.info({ graceMs: this.running.timeouts.shutdownMs }, 'stopping the HTTP proxy: no new connections, finishing requests in flight');
    await this.proxy.stop(this.running.timeouts.shutdownMs);
  }
}
