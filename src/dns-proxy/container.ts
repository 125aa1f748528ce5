/**
 * The legacy DNS proxy container, with this image in place of haproxy's: only the
 * EGRESS_DNS_PROXY_* variables are set, no capability is granted. It parses the list, decides the
 * path (path.ts), resolves the names, and relays until SIGTERM or SIGINT; then it stops accepting,
 * lets open connections finish for a few seconds, and exits 0.
 */
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Environment } from '../config/config.js';
import type { Output } from '../entrypoint.js';
import { HealthChecker } from '../health/checker.js';
import { tcpConnectCheck } from '../health/tcp-check.js';
import { createLogger } from '../log.js';
import { parseResolvConf } from '../names/resolv-conf.js';
import { resolverFor } from '../names/resolver.js';
import { DEFAULT_BACKOFF } from '../names/schedule.js';
import { NameWatcher } from '../names/watcher.js';
import { exitCodeFor, quote } from '../problem.js';
import { readTextFile } from '../system/files.js';
import { describeProxyRules, proxyNames, summarizeProxyList } from './destinations.js';
import { type KernelPath, kernelPathAvailable, runKernelPath } from './path.js';
import { RELAY_OWNER, type Relay, startDnsProxyRelay } from './relay.js';
import { type DnsProxySettings, parseDnsProxySettings } from './settings.js';

/** How long start-up waits for the names' first lookups before it listens anyway. */
const FIRST_LOOKUP_WAIT_MS = 5000;
/** How long open connections may go on after SIGTERM; a second signal ends them at once. */
export const STOP_GRACE_MS = 5000;

function firstSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    // `once`: a second signal meets Node's default handling, which ends the process at once.
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve(signal));
  });
}

/** The resolver of the proxy: the nameservers of its resolv.conf, as the legacy script read them. */
function podNameResolver(settings: DnsProxySettings, log: Logger) {
  const read = readTextFile(settings.resolvConf);
  const conf = parseResolvConf(read.ok ? read.text : '');
  if (!read.ok) log.warn({ path: settings.resolvConf, error: read.reason }, `resolver configuration ${quote(settings.resolvConf)}: ${read.reason}; using the system's default nameservers`);
  else if (conf.nameservers.length === 0) log.warn({ path: settings.resolvConf }, `no nameserver in ${quote(settings.resolvConf)}; using the system's default nameservers`);
  return { resolver: resolverFor(conf), nameservers: conf.nameservers.map((n) => n.text) };
}

export async function runDnsProxyContainer(env: Environment, output: Output): Promise<number> {
  const parsed = parseDnsProxySettings(env, readTextFile);
  if (!parsed.ok) {
    output.problems(parsed.problems);
    return exitCodeFor(parsed.problems);
  }
  const settings = parsed.value;
  if (settings.unitTest) {
    output.out(`${[...describeProxyRules(settings.list), summarizeProxyList(settings.origin, settings.list)].join('\n')}\n`);
    return 0;
  }

  const signal = firstSignal();
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const log = await createLogger(settings.debug);
  const names = proxyNames(settings.list);
  const { resolver, nameservers } = podNameResolver(settings, log);
  log.info(
    { rules: settings.list.rules.length, names: names.length, family: settings.list.family, nameservers, ttl: settings.ttl },
    `dns proxy starting: ${summarizeProxyList(settings.origin, settings.list)}`,
  );
  log.debug({ rules: describeProxyRules(settings.list) }, 'rules');
  const watcher = new NameWatcher({ resolver, family: settings.list.family, policy: { bounds: settings.ttl, backoff: DEFAULT_BACKOFF }, log });
  const health = new HealthChecker({ connect: tcpConnectCheck, log });
  const registry = new Registry();
  watcher.watch(names, RELAY_OWNER);
  const late = await watcher.firstLookups(FIRST_LOOKUP_WAIT_MS);
  if (late.length > 0) log.warn({ names: late }, `no answer yet for ${late.join(', ')} after ${FIRST_LOOKUP_WAIT_MS / 1000} s; starting without`);

  let running: KernelPath | Relay | undefined;
  const decision = await kernelPathAvailable(settings.list.family);
  if (decision.kernel) {
    running = await runKernelPath({ settings, log, registry, watcher, health });
    if (running) log.info({ path: 'kernel', reason: decision.reason }, `dns proxy runs on the kernel path: ${decision.reason}`);
  }
  if (!running) {
    const reason = decision.kernel ? `the kernel path is available (${decision.reason}) but not wired yet` : decision.reason;
    log.info({ path: 'relay', reason }, `dns proxy runs as a user-space relay: ${reason}`);
    const relay = await startDnsProxyRelay(settings.list, { log, registry, watcher, health, clusterInterface: settings.clusterInterface });
    if (!relay.ok) {
      watcher.stop();
      health.stop();
      clearInterval(keepAlive);
      output.problems(relay.problems);
      return exitCodeFor(relay.problems);
    }
    running = relay.value;
  }
  log.info({ ports: settings.list.rules.map((r) => r.port) }, 'dns proxy ready');

  const received = await signal;
  log.info({ signal: received, graceMs: STOP_GRACE_MS }, 'stopping: no new connections; open ones may finish');
  await running.stop(STOP_GRACE_MS);
  watcher.stop();
  health.stop();
  clearInterval(keepAlive);
  log.info('dns proxy stopped');
  return 0;
}
