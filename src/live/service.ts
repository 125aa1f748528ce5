/**
 * The long-running router as a service: the reconcile loop, the status endpoint, SIGHUP, and an
 * orderly stop. The first reconcile decides the start: if it cannot converge because of the
 * configuration or the pod (no macvlan, a missing capability), the router exits as the one-shot
 * modes do, with the problem on stderr, instead of serving "not ready" forever.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { createRouterMetrics, type RouterMetrics } from '../observe/metrics.js';
import { type StatusServer, startStatusServer } from '../observe/status-server.js';
import { type Problem, exitCodeFor } from '../problem.js';
import { readTextFile } from '../system/files.js';
import type { SignalGate } from '../system/signals.js';
import { VERSION } from '../version.js';
import { RouterController } from './controller.js';
import type { Inputs } from './inputs.js';
import { readTraffic } from '../system/traffic.js';

export interface ServiceOutput {
  problems: (problems: readonly Problem[]) => void;
}

/** Starts the status endpoint if the configuration asks for one. */
export async function serveStatus(
  config: Pick<Config, 'statusPort' | 'clusterInterface'>,
  readiness: () => import('../observe/status-server.js').Readiness,
  metrics: RouterMetrics,
  log: Logger,
): Promise<{ ok: true; server: StatusServer | undefined } | { ok: false; problems: Problem[] }> {
  if (config.statusPort === 0) return { ok: true, server: undefined };
  const started = await startStatusServer({ interfaceName: config.clusterInterface, port: config.statusPort, readiness, registry: metrics.registry });
  if (!started.ok) return started;
  log.info({ listening: started.value.listening }, 'status endpoint: /livez /readyz /metrics');
  return { ok: true, server: started.value };
}

/** How often a debugging router reports new forward drops. */
const DROP_REPORT_EVERY_MS = 10_000;

/**
 * Kernel log lines from a pod's namespace usually go nowhere, so with EGRESS_ROUTER_DEBUG the
 * long-running router reports the drop counter in its own log whenever it grows.
 */
function reportDrops(controller: RouterController, log: Logger): NodeJS.Timeout {
  let last = 0;
  return setInterval(() => {
    const { backend, ruleset } = controller.appliedFirewall();
    void readTraffic(backend, ruleset).then((traffic) => {
      if (traffic && traffic.forwardDropped > last) {
        log.debug({ forwardDropped: traffic.forwardDropped, since: traffic.forwardDropped - last }, 'dropped forwarded packets that were not redirected');
        last = traffic.forwardDropped;
      }
    });
  }, DROP_REPORT_EVERY_MS);
}

export async function runRouterService(inputs: Inputs, gate: SignalGate, log: Logger, output: ServiceOutput): Promise<number> {
  const metrics = createRouterMetrics({ version: VERSION });
  const controller = new RouterController({ env: inputs.env, readFile: readTextFile, log, metrics, initial: inputs });
  metrics.setTrafficSource(() => {
    const { backend, ruleset } = controller.appliedFirewall();
    return readTraffic(backend, ruleset);
  });
  gate.hangup(() => controller.reload('SIGHUP'));
  const converged = await controller.start();
  if (!converged) {
    const problems = controller.problems();
    await controller.stop();
    output.problems(problems);
    return exitCodeFor(problems);
  }
  const config = inputs.config;
  const status = await serveStatus(config, () => controller.readiness(), metrics, log);
  if (!status.ok) {
    await controller.stop();
    output.problems(status.problems);
    return exitCodeFor(status.problems);
  }
  const drops = config.debug ? reportDrops(controller, log) : undefined;
  const signal = await gate.wait();
  clearInterval(drops);
  log.info({ signal }, 'stopping; the configuration stays in place');
  await controller.stop();
  await status.server?.close();
  return 0;
}
