/**
 * Reads the pod's network namespace without changing it: links, addresses, routes, policy rules,
 * forwarding, capabilities, tools, and the router's own iptables chains.
 */
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Family } from '../config/address.js';
import type { Config } from '../config/config.js';
import { type IptablesSnapshot, IPTABLES_TABLES, emptySnapshot, iptablesCommands, parseSaveOutput } from '../firewall/iptables.js';
import { REPLY_TABLE, forwardingKey } from '../plan/network.js';
import type { Capabilities, LinkState, Observed, RouteEntry, RuleEntry } from '../plan/observed.js';
import { sysctlPath } from '../plan/plan.js';
import { type Result, fail, ok, problem } from '../problem.js';
import { parseCapabilities } from './capabilities.js';
import { runCommand } from './commands.js';
import { requiredTools } from '../plan/preflight.js';
import { parseResolvConf } from '../names/resolv-conf.js';
import { readTextFile } from './files.js';

/** The resolver configuration's text; a pod without one resolves nothing, which is no error here. */
function readResolvConf(path: string): string {
  const read = readTextFile(path);
  return read.ok ? read.text : '';
}

interface IpLink {
  ifname: string;
  flags?: string[];
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  scope?: string;
  prefsrc?: string;
  table?: string;
  type?: string;
  flags?: string[];
}
interface IpRule {
  priority: number;
  src: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  iif?: string;
  table?: string;
}

/** Whether a command is on PATH, without running it. */
export function onPath(command: string, path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir || '.', command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function ipJson<T>(args: string[]): Promise<Result<T[]>> {
  const result = await runCommand(['ip', '-j', ...args]);
  if (!result.ok) return fail(problem('environment', `ip ${args.join(' ')}`, result.error));
  try {
    return ok(result.stdout.trim() === '' ? [] : (JSON.parse(result.stdout) as T[]));
  } catch {
    return fail(problem('environment', `ip ${args.join(' ')}`, 'printed output that is not JSON (iproute2 too old?)'));
  }
}

function toLinkState(link: IpLink | undefined): LinkState | undefined {
  if (!link) return undefined;
  return {
    name: link.ifname,
    kind: link.linkinfo?.info_kind,
    up: link.flags?.includes('UP') ?? false,
    addresses: (link.addr_info ?? [])
      .filter((a) => a.family === 'inet' || a.family === 'inet6')
      .map((a) => ({ family: a.family === 'inet' ? 4 : 6, text: a.local, prefix: a.prefixlen, scope: a.scope })),
  };
}

function toRoute(r: IpRoute): RouteEntry {
  const route: RouteEntry = { dst: r.dst, onlink: r.flags?.includes('onlink') ?? false };
  if (r.gateway) route.gateway = r.gateway;
  if (r.dev) route.dev = r.dev;
  if (r.metric !== undefined) route.metric = r.metric;
  if (r.scope) route.scope = r.scope;
  if (r.prefsrc) route.prefsrc = r.prefsrc;
  return route;
}

function readForwarding(family: Family): Observed['forwarding'] {
  const path = sysctlPath(forwardingKey(family));
  let value = '';
  try {
    value = readFileSync(path, 'utf8').trim();
  } catch {
    // unreadable: reported by preflight if forwarding is needed
  }
  // Opening for writing (and writing nothing) asks the kernel with our effective capabilities;
  // access(2) checks the real uid and drops them, so it calls the file read-only for a non-root
  // process that holds CAP_NET_ADMIN, which may write it.
  let writable = true;
  try {
    closeSync(openSync(path, 'r+'));
  } catch {
    writable = false;
  }
  return { value, writable };
}

function readCapabilities(): Capabilities {
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    // no /proc: every capability reads as missing
  }
  return parseCapabilities(status);
}

async function resolveBackend(config: Config, capabilities: Capabilities): Promise<Observed['firewallBackend']> {
  if (config.firewall !== 'auto') return config.firewall;
  if (!onPath('nft')) return 'iptables';
  // Listing needs CAP_NET_ADMIN: without it the probe would fail and wrongly pick iptables, whose
  // save command then fails too, hiding preflight's message about the missing capability.
  if (!capabilities.netAdmin) return 'nftables';
  const probe = await runCommand(['nft', 'list', 'tables']);
  return probe.ok ? 'nftables' : 'iptables';
}

export async function readIptables(family: Family): Promise<Result<IptablesSnapshot>> {
  const snapshot = emptySnapshot();
  const { save } = iptablesCommands(family);
  const outputs = await Promise.all(IPTABLES_TABLES.map((table) => runCommand([save, '-t', table])));
  for (const [index, table] of IPTABLES_TABLES.entries()) {
    const output = outputs[index]!;
    if (!output.ok) return fail(problem('environment', `${save} -t ${table}`, output.error));
    parseSaveOutput(table, output.stdout, snapshot);
  }
  return ok(snapshot);
}

export async function probe(config: Config): Promise<Result<Observed>> {
  const family = config.family;
  const familyFlag = family === 4 ? '-4' : '-6';
  const capabilities = readCapabilities();
  const [links, routes, rules, backend] = await Promise.all([
    ipJson<IpLink>(['-d', 'addr', 'show']),
    ipJson<IpRoute>([familyFlag, 'route', 'show', 'table', 'all']),
    ipJson<IpRule>([familyFlag, 'rule', 'show']),
    resolveBackend(config, capabilities),
  ]);
  if (!links.ok) return links;
  if (!routes.ok) return routes;
  if (!rules.ok) return rules;

  const tools: Record<string, boolean> = {};
  for (const tool of requiredTools(config, backend)) tools[tool] = onPath(tool);

  let iptables: IptablesSnapshot | undefined;
  // Without CAP_NET_ADMIN the save command fails; preflight names the capability instead (a dry
  // run still tries, because it needs the chains to print a true plan).
  const canRead = capabilities.netAdmin || config.dryRun;
  if (backend === 'iptables' && config.destinations && tools[iptablesCommands(family).save] && canRead) {
    const read = await readIptables(family);
    if (!read.ok) return read;
    iptables = read.value;
  }
  const byName = (name: string) => links.value.find((l) => l.ifname === name);
  const unicast = routes.value.filter((r) => r.type === undefined || r.type === 'unicast');
  return ok({
    egress: toLinkState(byName(config.egressInterface)),
    cluster: toLinkState(byName(config.clusterInterface)),
    mainRoutes: unicast.filter((r) => r.table === undefined || r.table === 'main').map(toRoute),
    replyRoutes: unicast.filter((r) => r.table === String(REPLY_TABLE)).map(toRoute),
    rules: rules.value.map((r): RuleEntry => ({ priority: r.priority, src: r.src, srclen: r.srclen, dst: r.dst, dstlen: r.dstlen, iif: r.iif, table: r.table ?? '' })),
    nameservers: parseResolvConf(readResolvConf(config.resolvConf)).nameservers,
    forwarding: readForwarding(family),
    capabilities,
    tools,
    firewallBackend: backend,
    iptables,
  });
}
