/**
 * The legacy proxy container, with this image instead of squid's: the environment has
 * EGRESS_HTTP_PROXY_DESTINATION (or _FILE) and nothing of the router's. It needs no capability
 * and no root: the init container configured the pod's network already.
 *
 *   unit-test mode   print the rules understood, exit 0; or every error, exit 1
 *   otherwise        serve until SIGTERM or SIGINT, finish requests in flight, exit 0
 */
import { Registry } from 'prom-client';
import type { Environment } from '../config/config.js';
import type { Output } from '../entrypoint.js';
import { createLogger } from '../log.js';
import { podResolver } from '../names/resolver.js';
import { exitCodeFor } from '../problem.js';
import { readTextFile } from '../system/files.js';
import { rulesReport } from './rules.js';
import { parseHttpProxySettings } from './settings.js';
import { startHttpProxy } from './server.js';

function firstSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve(signal));
  });
}

export async function runHttpProxyContainer(env: Environment, output: Output): Promise<number> {
  const parsed = parseHttpProxySettings(env, readTextFile);
  if (!parsed.ok) {
    output.problems(parsed.problems);
    return exitCodeFor(parsed.problems);
  }
  const settings = parsed.value;
  if (settings.unitTest) {
    output.out(rulesReport(settings.origin, settings.rules, settings.warnings));
    return 0;
  }
  // Signals are taken from here on: one during start-up stops the proxy as soon as it is up.
  const signal = firstSignal();
  const log = await createLogger(settings.debug);
  for (const warning of settings.warnings) log.warn({ where: warning.where }, warning.message);
  const { resolver, conf } = podResolver(readTextFile, settings.resolvConf);
  if (conf.nameservers.length === 0) log.warn({ resolvConf: settings.resolvConf }, 'no nameserver in the resolver configuration; requests by name will fail');
  const started = await startHttpProxy(settings, { log, registry: new Registry(), resolver });
  if (!started.ok) {
    output.problems(started.problems);
    return exitCodeFor(started.problems);
  }
  const proxy = started.value;
  log.info(
    { listening: proxy.listening, rules: settings.rules.rules.length, otherwise: settings.rules.wildcardLine === undefined ? 'deny' : 'allow', nameservers: conf.nameservers.map((n) => n.text) },
    'http proxy ready',
  );
  const received = await signal;
  log.info({ signal: received, graceMs: settings.timeouts.shutdownMs }, 'stopping: no new connections, finishing requests in flight');
  await proxy.stop(settings.timeouts.shutdownMs);
  log.info('http proxy stopped');
  return 0;
}
