/**
 * A long-running process as a service: the reconcile loop with its parts, the status endpoint,
 * SIGHUP, and an orderly stop. The first reconcile decides the start: if it cannot converge
 * because of the configuration or the pod (no macvlan, a missing capability), the process exits
 * as the one-shot modes do, with the problem on stderr, instead of serving "not ready" forever.
 */
import type { Logger } from 'pino';
import type { Config, Environment, ReadFile } from '../config/config.js';
import { type RouterMetrics, type TrafficSource } from '../observe/metrics.js';
import { type Readiness, type StatusServer, startStatusServer } from '../observe/status-server.js';
import { type Problem, type Result, exitCodeFor } from '../problem.js';
import type { SignalGate } from '../system/signals.js';
import { readTraffic } from '../system/traffic.js';
import { type ControllerOptions, LiveController } from './controller.js';
import type { RouterPart } from './router-part.js';

export interface ServiceOutput {
  problems: (problems: readonly Problem[]) => void;
}

/** Starts the status endpoint if the configuration asks for one. */
async function serveStatus(
  where: { statusPort: number; clusterInterface: string },
  readiness: () => Readiness,
  metrics: RouterMetrics,
  log: Logger,
): Promise<Result<StatusServer | undefined>> {
  if (where.statusPort === 0) return { ok: true, value: undefined };
  const started = await startStatusServer({ interfaceName: where.clusterInterface, port: where.statusPort, readiness, registry: metrics.registry });
  if (!started.ok) return started;
  log.info({ listening: started.value.listening }, 'status endpoint: /livez /readyz /metrics');
  return started;
}

/** How often a debugging router reports new forward drops. */
const DROP_REPORT_EVERY_MS = 10_000;

/**
 * Kernel log lines from a pod's namespace usually go nowhere, so with EGRESS_ROUTER_DEBUG the
 * long-running router reports the drop counter in its own log whenever it grows.
 */
function reportDrops(traffic: TrafficSource, log: Logger): NodeJS.Timeout {
  let last = 0;
  return setInterval(() => {
    void traffic().then((snapshot) => {
      if (snapshot && snapshot.forwardDropped > last) {
        log.debug({ forwardDropped: snapshot.forwardDropped, since: snapshot.forwardDropped - last }, 'dropped forwarded packets that were not redirected');
        last = snapshot.forwardDropped;
      }
    });
  }, DROP_REPORT_EVERY_MS);
}

/** The traffic counters of the router part's firewall, as last applied. */
export const trafficOf = (router: RouterPart): TrafficSource => () => {
  const { backend, ruleset } = router.appliedFirewall();
  return readTraffic(backend, ruleset);
};

export interface ServiceOptions<S> extends Omit<ControllerOptions<S>, 'readFile'> {
  readFile: ReadFile;
  gate: SignalGate;
  output: ServiceOutput;
  /** Where the status endpoint listens (port 0: none). */
  status: { statusPort: number; clusterInterface: string };
  /** The router part, if the process has one: its counters are the traffic metrics. */
  router?: () => RouterPart | undefined;
  debug?: boolean;
}

export async function runService<S>(options: ServiceOptions<S>): Promise<number> {
  const { gate, log, metrics, output } = options;
  const controller = new LiveController<S>(options);
  const router = options.router?.();
  if (router) metrics.setTrafficSource(trafficOf(router));
  gate.hangup(() => controller.reload('SIGHUP'));
  if (!(await controller.start())) {
    const problems = controller.problems();
    await controller.stop();
    output.problems(problems);
    return exitCodeFor(problems);
  }
  const status = await serveStatus(options.status, () => controller.readiness(), metrics, log);
  if (!status.ok) {
    await controller.stop();
    output.problems(status.problems);
    return exitCodeFor(status.problems);
  }
  const drops = router && options.debug ? reportDrops(trafficOf(router), log) : undefined;
  // Waiting for a signal keeps no event loop alive by itself; without a status endpoint nothing else might.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const signal = await gate.wait();
  clearInterval(keepAlive);
  clearInterval(drops);
  log.info({ signal }, 'stopping; the configuration stays in place');
  await controller.stop();
  await status.value?.close();
  return 0;
}

/** The mode, fixed for the life of the process: the process already runs in that shape. */
export function keepMode(running: Config, next: Config): { settings: Config; kept: string[] } {
  if (running.mode === next.mode) return { settings: next, kept: [] };
  return { settings: { ...next, mode: running.mode }, kept: ['EGRESS_ROUTER_MODE'] };
}

export type { Environment };
