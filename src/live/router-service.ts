/**
 * The long-running router process: the router part (network, firewall, names, failover) on the
 * shared loop, and in a one-container HTTP proxy pod (`EGRESS_ROUTER_MODE=http-proxy` with the
 * proxy's list) the HTTP proxy beside it, in the same process and on the same loop.
 */
import type { Logger } from 'pino';
import { type Config, type Environment, type ReadFile, parseConfig } from '../config/config.js';
import { statusPortClash } from '../http-proxy/container.js';
import { HttpProxyPart } from '../http-proxy/part.js';
import { type HttpProxySettings, hasProxyList, parseHttpProxySettings } from '../http-proxy/settings.js';
import { createRouterMetrics } from '../observe/metrics.js';
import { type Problem, type Result, fail, ok } from '../problem.js';
import { readTextFile } from '../system/files.js';
import type { SignalGate } from '../system/signals.js';
import { VERSION } from '../version.js';
import type { LivePart } from './controller.js';
import { focus } from './focus.js';
import { startInputs } from './inputs.js';
import { RouterPart } from './router-part.js';
import { type ServiceOutput, keepMode, runService } from './service.js';

export interface RouterProcess {
  router: Config;
  /** The HTTP proxy of a one-container pod. */
  http?: HttpProxySettings;
}

export function parseRouterProcess(env: Environment, readFile: ReadFile): Result<RouterProcess> {
  const router = parseConfig(env, readFile);
  if (!router.ok || router.value.mode !== 'http-proxy' || !hasProxyList(env)) return router.ok ? ok({ router: router.value }) : router;
  const http = parseHttpProxySettings(env, readFile);
  const problems: Problem[] = http.ok ? statusPortClash(http.value.port, router.value.statusPort) : http.problems;
  if (problems.length > 0 || !http.ok) return fail(...problems);
  return ok({ router: router.value, http: http.value });
}

function keepShape(running: RouterProcess, next: RouterProcess): { settings: RouterProcess; kept: string[] } {
  const router = keepMode(running.router, next.router);
  // A proxy started or stopped by a reload would change what the process is: both need a restart.
  const http = running.http && next.http ? next.http : running.http;
  const kept = Boolean(running.http) !== Boolean(next.http) ? [...router.kept, 'EGRESS_HTTP_PROXY_DESTINATION'] : router.kept;
  return { settings: { router: router.settings, ...(http ? { http } : {}) }, kept };
}

export async function runRouterService(env: Environment, gate: SignalGate, log: Logger, output: ServiceOutput): Promise<number> {
  const initial = startInputs(env, readTextFile, parseRouterProcess, output);
  if (typeof initial === 'number') return initial;
  const metrics = createRouterMetrics({ version: VERSION });
  let router: RouterPart | undefined;
  const parts = (trigger: () => void): LivePart<RouterProcess>[] => {
    router = new RouterPart({ readFile: readTextFile, log, registry: metrics.registry, trigger });
    const list: LivePart<RouterProcess>[] = [focus(router, (s: RouterProcess) => s.router)];
    // The network first: the proxy's upstream connections leave through it.
    if (initial.config.http) list.push(focus(new HttpProxyPart({ readFile: readTextFile, log, registry: metrics.registry }), (s: RouterProcess) => s.http!));
    return list;
  };
  return runService<RouterProcess>({
    env,
    readFile: readTextFile,
    parse: parseRouterProcess,
    log,
    metrics,
    initial,
    parts,
    keepRestartOnly: keepShape,
    readyMessage: 'egress router ready',
    gate,
    output,
    status: initial.config.router,
    router: () => router,
    debug: initial.config.router.debug,
  });
}
