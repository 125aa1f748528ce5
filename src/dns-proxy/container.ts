/**
 * The legacy DNS proxy container, with this image in place of haproxy's: only the
 * EGRESS_DNS_PROXY_* variables are set. It parses the list, decides the path (path.ts) and runs
 * it as a part of the shared reconcile loop, which follows the list's file and SIGHUP and serves
 * the status endpoint:
 *
 * - the kernel path (CAP_NET_ADMIN, forwarding on, the router's table made by our init container
 *   in `dns-proxy` mode): the router part keeps the table's redirect elements in step with the
 *   names; no byte crosses user space;
 * - the user-space relay otherwise (a proxy container without capabilities).
 *
 * On SIGTERM or SIGINT it stops accepting, lets open connections finish for a few seconds, and
 * exits 0.
 */
import { networkInterfaces } from 'node:os';
import { type Family, type InterfaceAddress, parseInterfaceAddress } from '../config/address.js';
import { type Config, type Environment, type ReadFile, parseStatusPort } from '../config/config.js';
import type { Output } from '../entrypoint.js';
import { type Inputs, startInputs } from '../live/inputs.js';
import { RouterPart } from '../live/router-part.js';
import { runService } from '../live/service.js';
import { createLogger } from '../log.js';
import { createRouterMetrics } from '../observe/metrics.js';
import { type Problem, type Result, fail, ok, problem } from '../problem.js';
import { readTextFile } from '../system/files.js';
import { SignalGate } from '../system/signals.js';
import { VERSION } from '../version.js';
import { proxyListAsRedirects } from './as-redirects.js';
import { describeProxyRules, proxyNames, summarizeProxyList } from './destinations.js';
import { kernelPathAvailable } from './path.js';
import { DnsRelayPart } from './relay-part.js';
import { type DnsProxySettings, parseDnsProxySettings } from './settings.js';

export interface DnsProxyContainerSettings extends DnsProxySettings {
  /** The status endpoint's port (EGRESS_ROUTER_STATUS_PORT), 0 for none. */
  statusPort: number;
  egressInterface: string;
}

/** The proxy's settings plus the container's own: the status port, which no rule may take. */
export function parseContainerSettings(env: Environment, readFile: ReadFile): Result<DnsProxyContainerSettings> {
  const problems: Problem[] = [];
  const statusPort = parseStatusPort(env, problems);
  const settings = parseDnsProxySettings(env, readFile);
  if (!settings.ok) problems.push(...settings.problems);
  else if (statusPort !== 0) {
    for (const rule of settings.value.list.rules.filter((r) => r.port === statusPort)) {
      problems.push(problem('config', `${settings.value.origin} line ${rule.line}`, `port ${statusPort} is the status endpoint's (EGRESS_ROUTER_STATUS_PORT); use another port, or move the endpoint with EGRESS_ROUTER_STATUS_PORT`));
    }
  }
  if (problems.length > 0 || !settings.ok) return fail(...problems);
  return ok({ ...settings.value, statusPort, egressInterface: env.EGRESS_ROUTER_INTERFACE || 'macvlan0' });
}

/**
 * The source address the init container gave the egress interface: the kernel path keeps the
 * elements of the table made for it, whose static part (the SNAT to it) is not this process's.
 */
function egressAddress(name: string, family: Family): InterfaceAddress | undefined {
  for (const entry of networkInterfaces()[name] ?? []) {
    if (entry.internal || (family === 4) !== (entry.family === 'IPv4') || entry.address.toLowerCase().startsWith('fe80:')) continue;
    const parsed = parseInterfaceAddress(entry.cidr ?? entry.address);
    if (parsed.ok) return parsed.address;
  }
  return undefined;
}

/** The DNS proxy's list as the router's configuration: TCP redirects, nothing else of the router's. */
function kernelConfig(settings: DnsProxyContainerSettings, source: InterfaceAddress): Config {
  const list = proxyListAsRedirects(settings.list);
  return {
    mode: 'dns-proxy',
    source,
    gateway: source,
    family: settings.list.family,
    destinations: list,
    egressInterface: settings.egressInterface,
    clusterInterface: settings.clusterInterface,
    firewall: 'nftables',
    debug: settings.debug,
    dryRun: false,
    statusPort: settings.statusPort,
    resolvConf: settings.resolvConf,
    rpFilter: 'keep',
    ttl: settings.ttl,
  };
}

export async function runDnsProxyContainer(env: Environment, output: Output): Promise<number> {
  const inputs = startInputs(env, readTextFile, parseContainerSettings, output);
  if (typeof inputs === 'number') return inputs;
  const settings = inputs.config;
  if (settings.unitTest) {
    output.out(`${[...describeProxyRules(settings.list), summarizeProxyList(settings.origin, settings.list)].join('\n')}\n`);
    return 0;
  }
  const gate = new SignalGate();
  const log = await createLogger(settings.debug);
  const metrics = createRouterMetrics({ version: VERSION });
  log.info(
    { rules: settings.list.rules.length, names: proxyNames(settings.list).length, family: settings.list.family, ttl: settings.ttl },
    `dns proxy starting: ${summarizeProxyList(settings.origin, settings.list)}`,
  );
  log.debug({ rules: describeProxyRules(settings.list) }, 'rules');
  const status = { statusPort: settings.statusPort, clusterInterface: settings.clusterInterface };

  const decision = await kernelPathAvailable(settings.list.family);
  const source = decision.kernel ? egressAddress(settings.egressInterface, settings.list.family) : undefined;
  if (decision.kernel && source) {
    log.info({ path: 'kernel', reason: decision.reason }, `dns proxy runs on the kernel path: ${decision.reason}`);
    let router: RouterPart | undefined;
    const asConfig = (e: Environment, f: ReadFile): Result<Config> => {
      const parsed = parseContainerSettings(e, f);
      return parsed.ok ? ok(kernelConfig(parsed.value, source)) : parsed;
    };
    const initial: Inputs<Config> = { ...inputs, config: kernelConfig(settings, source) };
    return runService<Config>({
      env, readFile: readTextFile, parse: asConfig, log, metrics, initial, gate, output, status,
      parts: (trigger) => [(router = new RouterPart({ readFile: readTextFile, log, registry: metrics.registry, trigger, elementsOnly: true }))],
      readyMessage: 'dns proxy ready',
      router: () => router,
      debug: settings.debug,
    });
  }
  const reason = decision.kernel ? `${settings.egressInterface} has no address of the list's family (the init container has not configured the pod)` : decision.reason;
  log.info({ path: 'relay', reason }, `dns proxy runs as a user-space relay: ${reason}`);
  return runService<DnsProxyContainerSettings>({
    env, readFile: readTextFile, parse: parseContainerSettings, log, metrics, initial: inputs, gate, output, status,
    parts: () => [new DnsRelayPart({ readFile: readTextFile, log, registry: metrics.registry })],
    readyMessage: 'dns proxy ready',
  });
}
