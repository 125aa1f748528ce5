/**
 * The legacy proxy container, with this image instead of squid's: the environment has
 * EGRESS_HTTP_PROXY_DESTINATION (or _FILE) and nothing of the router's. It needs no capability
 * and no root: the init container configured the pod's network already.
 *
 *   unit-test mode   print the rules understood, exit 0; or every error, exit 1
 *   otherwise        serve on the shared reconcile loop (the list's file and SIGHUP reload it,
 *                    the status endpoint serves probes and metrics) until SIGTERM or SIGINT,
 *                    finish requests in flight, exit 0
 */
import { type Environment, type ReadFile, parseStatusPort } from '../config/config.js';
import type { Output } from '../entrypoint.js';
import { startInputs } from '../live/inputs.js';
import { runService } from '../live/service.js';
import { createLogger } from '../log.js';
import { createRouterMetrics } from '../observe/metrics.js';
import { type Problem, type Result, fail, ok, problem } from '../problem.js';
import { readTextFile } from '../system/files.js';
import { SignalGate } from '../system/signals.js';
import { VERSION } from '../version.js';
import { HttpProxyPart } from './part.js';
import { rulesReport } from './rules.js';
import { type HttpProxySettings, parseHttpProxySettings } from './settings.js';

export interface HttpProxyContainerSettings extends HttpProxySettings {
  /** The status endpoint's port (EGRESS_ROUTER_STATUS_PORT), 0 for none. */
  statusPort: number;
}

/** The proxy's port and the status endpoint's share the cluster address: they must differ. */
export function statusPortClash(proxyPort: number, statusPort: number): Problem[] {
  if (statusPort === 0 || proxyPort !== statusPort) return [];
  return [problem('config', 'EGRESS_HTTP_PROXY_PORT', `${proxyPort} is also the status endpoint's port (EGRESS_ROUTER_STATUS_PORT); give one of them another port`)];
}

export function parseContainerSettings(env: Environment, readFile: ReadFile): Result<HttpProxyContainerSettings> {
  const problems: Problem[] = [];
  const statusPort = parseStatusPort(env, problems);
  const settings = parseHttpProxySettings(env, readFile);
  if (!settings.ok) problems.push(...settings.problems);
  else problems.push(...statusPortClash(settings.value.port, statusPort));
  if (problems.length > 0 || !settings.ok) return fail(...problems);
  return ok({ ...settings.value, statusPort });
}

export async function runHttpProxyContainer(env: Environment, output: Output): Promise<number> {
  const inputs = startInputs(env, readTextFile, parseContainerSettings, output);
  if (typeof inputs === 'number') return inputs;
  const settings = inputs.config;
  if (settings.unitTest) {
    output.out(rulesReport(settings.origin, settings.rules, settings.warnings));
    return 0;
  }
  const gate = new SignalGate();
  const log = await createLogger(settings.debug);
  const metrics = createRouterMetrics({ version: VERSION });
  const code = await runService<HttpProxyContainerSettings>({
    env,
    readFile: readTextFile,
    parse: parseContainerSettings,
    log,
    metrics,
    initial: inputs,
    gate,
    output,
    status: { statusPort: settings.statusPort, clusterInterface: settings.clusterInterface },
    parts: () => [new HttpProxyPart({ readFile: readTextFile, log, registry: metrics.registry })],
    readyMessage: 'http proxy: configuration applied',
  });
  log.info('http proxy stopped');
  return code;
}
