/**
 * Reads the pod's network namespace without changing it: links, addresses, routes, policy rules,
 * forwarding, capabilities, tools, the router's own iptables chains, and what the other firewall
 * backend left of an earlier run.
 */
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Family } from '../config/address.js';
import type { Config } from '../config/config.js';
import { type IptablesSnapshot, IPTABLES_TABLES, emptySnapshot, iptablesCommands, parseSaveOutput } from '../firewall/iptables.js';
import {
  type FirewallLeftovers,
  type NftChainListing,
  hasIptablesNftChains,
  hasIptablesRules,
  hasLegacyTables,
  hasRouterTable,
  legacyTableNamesPath,
  nftListChainsCommand,
  parseNftChains,
} from '../firewall/cleanup.js';
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
  ifindex?: number;
  address?: string;
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
    index: link.ifindex,
    mac: link.address,
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
  return { value, writable: writableFile(path) };
}

/**
 * Opening for writing (and writing nothing) asks the kernel with our effective capabilities;
 * access(2) checks the real uid and drops them, so it calls a sysctl read-only for a non-root
 * process that holds CAP_NET_ADMIN, which may write it.
 */
function writableFile(path: string): boolean {
  try {
    closeSync(openSync(path, 'r+'));
    return true;
  } catch {
    return false;
  }
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

/**
 * The router's traces in nftables, of the configured family: `nft list chains` lists chains
 * without their rules or map elements, so it takes milliseconds beside a map of 100,000
 * redirects, where `nft list tables` (nft 1.0) fetches everything and takes seconds.
 * Undefined where nft is missing or cannot list (no CAP_NET_ADMIN, no nf_tables).
 */
async function listNftChains(config: Config): Promise<NftChainListing | undefined> {
  const listed = await runCommand(nftListChainsCommand(config.family));
  return listed.ok ? parseNftChains(listed.stdout) : undefined;
}

function resolveBackend(config: Config, capabilities: Capabilities, listing: NftChainListing | undefined): Observed['firewallBackend'] {
  if (config.firewall !== 'auto') return config.firewall;
  if (!onPath('nft')) return 'iptables';
  // Listing needs CAP_NET_ADMIN: without it the probe would fail and wrongly pick iptables, whose
  // save command then fails too, hiding preflight's message about the missing capability.
  if (!capabilities.netAdmin) return 'nftables';
  return listing ? 'nftables' : 'iptables';
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * What the other backend left of an earlier run. Cheap when there is nothing: the nft listing
 * shows the router's nftables table and any chains iptables-nft holds for it, and a /proc file
 * shows whether iptables-legacy holds tables at all; only then does iptables-save run. Without
 * the tools there is nothing to remove.
 */
async function readLeftovers(config: Config, backend: Observed['firewallBackend'], listing: NftChainListing | undefined): Promise<Result<FirewallLeftovers | undefined>> {
  const family = config.family;
  if (backend === 'iptables') return ok(listing && hasRouterTable(listing) ? { nftablesTable: true } : undefined);
  const traces = (listing && hasIptablesNftChains(listing)) || hasLegacyTables(readText(legacyTableNamesPath(family)));
  if (!traces || !onPath(iptablesCommands(family).save)) return ok(undefined);
  const read = await readIptables(family);
  if (!read.ok) return read;
  return ok(hasIptablesRules(read.value) ? { iptables: read.value } : undefined);
}

/** The backend, and what the other one left (only where this run loads a firewall). */
async function readFirewall(config: Config, capabilities: Capabilities): Promise<Result<{ backend: Observed['firewallBackend']; leftovers?: FirewallLeftovers }>> {
  const needsListing = config.firewall === 'auto' || config.destinations !== undefined;
  // Reading either firewall needs CAP_NET_ADMIN; without it preflight stops the run.
  const listing = needsListing && capabilities.netAdmin && onPath('nft') ? await listNftChains(config) : undefined;
  const backend = resolveBackend(config, capabilities, listing);
  if (!config.destinations || !capabilities.netAdmin) return ok({ backend });
  const leftovers = await readLeftovers(config, backend, listing);
  return leftovers.ok ? ok({ backend, leftovers: leftovers.value }) : leftovers;
}

/** rp_filter of conf.all and of both interfaces (IPv4 only), and whether the router may write it. */
function readReversePathFilter(config: Config): Observed['reversePathFilter'] {
  if (config.family !== 4) return undefined;
  // Interface names may hold dots (eth0.100), so the path is built directly, not from a key.
  const path = (name: string) => `/proc/sys/net/ipv4/conf/${name}/rp_filter`;
  const read = (name: string) => readText(path(name)).trim();
  return { all: read('all'), cluster: read(config.clusterInterface), egress: read(config.egressInterface), writable: writableFile(path(config.clusterInterface)) };
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
  const [links, routes, rules, firewall] = await Promise.all([
    ipJson<IpLink>(['-d', 'addr', 'show']),
    ipJson<IpRoute>([familyFlag, 'route', 'show', 'table', 'all']),
    ipJson<IpRule>([familyFlag, 'rule', 'show']),
    readFirewall(config, capabilities),
  ]);
  if (!links.ok) return links;
  if (!routes.ok) return routes;
  if (!rules.ok) return rules;
  if (!firewall.ok) return firewall;
  const { backend, leftovers } = firewall.value;

  const tools: Record<string, boolean> = {};
  for (const tool of requiredTools(config, backend, leftovers)) tools[tool] = onPath(tool);

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
    leftovers,
    reversePathFilter: readReversePathFilter(config),
  });
}
