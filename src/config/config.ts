/**
 * Environment in, typed configuration out. Pure: files are read through the `readFile` it is
 * given, so that every rule here is tested without a file system or privileges.
 */
import { parse as parseDotenv } from 'dotenv';
import { type Family, type InterfaceAddress, type IpAddress, familyName, parseInterfaceAddress, parseUnicastAddress } from './address.js';
import { type DestinationList, parseDestinations, parsePort } from './destinations.js';
import { DEFAULT_RESOLV_CONF } from '../names/resolv-conf.js';
import { RP_FILTER_CHOICES, type ReversePathChoice } from '../plan/reverse-path.js';
import { type TtlBounds, parseTtlBounds } from '../names/schedule.js';
import { FAILOVER_VARIABLES, type FailoverSettings, parseFailoverSettings } from '../failover/settings.js';
import { loadProxyList, readProxyList } from '../dns-proxy/settings.js';
import { noRedirects, proxyListAsRedirects } from '../dns-proxy/as-redirects.js';
import { type Problem, type Result, fail, ok, pathName, problem, quote } from '../problem.js';

export const MODES = ['init', 'legacy', 'http-proxy', 'dns-proxy', 'unit-test'] as const;
export type Mode = (typeof MODES)[number];
export const FIREWALLS = ['nftables', 'iptables', 'auto'] as const;
export type FirewallChoice = (typeof FIREWALLS)[number];

export interface Config {
  mode: Mode;
  source: InterfaceAddress;
  gateway: IpAddress;
  family: Family;
  /** The redirect rules; absent in the proxy modes, where EGRESS_DESTINATION belongs to the proxy. */
  destinations?: DestinationList;
  /** The macvlan interface that owns the reserved source address. */
  egressInterface: string;
  /** The pod's interface on the cluster network, where clients connect. */
  clusterInterface: string;
  firewall: FirewallChoice;
  debug: boolean;
  dryRun: boolean;
  /**
   * The status endpoint's TCP port on the cluster interface (/readyz, /livez, /metrics) in the
   * long-running modes; 0 when it is off.
   */
  statusPort: number;
  /** The resolver configuration names are resolved with. */
  resolvConf: string;
  /** What to do about strict reverse-path filtering where the router forwards (src/plan/reverse-path.ts). */
  rpFilter: ReversePathChoice;
  /** The floor and ceiling of the names' re-resolution. */
  ttl: TtlBounds;
  /** VRRP failover between replicas (EGRESS_ROUTER_VRRP_ID); undefined when off. */
  failover?: FailoverSettings;
}

/** The status endpoint's documented default port. */
export const DEFAULT_STATUS_PORT = 9552;

export type Environment = Readonly<Record<string, string | undefined>>;
export type FileReadResult = { ok: true; text: string } | { ok: false; reason: string };
export type ReadFile = (path: string) => FileReadResult;

/** The variables this program reads; used to pick the dotenv file's entries, nothing else. */
export const VARIABLES = [
  'EGRESS_SOURCE',
  'EGRESS_GATEWAY',
  'EGRESS_DESTINATION',
  'EGRESS_DESTINATION_FILE',
  'EGRESS_ROUTER_MODE',
  'EGRESS_ROUTER_DEBUG',
  'EGRESS_ROUTER_INTERFACE',
  'EGRESS_ROUTER_CLUSTER_INTERFACE',
  'EGRESS_ROUTER_FIREWALL',
  'EGRESS_ROUTER_DRY_RUN',
  'EGRESS_ROUTER_STATUS_PORT',
  'EGRESS_ROUTER_RESOLV_CONF',
  'EGRESS_ROUTER_RP_FILTER',
  'EGRESS_ROUTER_DNS_MIN_TTL',
  'EGRESS_ROUTER_DNS_MAX_TTL',
  'EGRESS_DNS_PROXY_DESTINATION',
  'EGRESS_DNS_PROXY_DESTINATION_FILE',
  ...FAILOVER_VARIABLES,
] as const;

export const isSet = (value: string | undefined): value is string => value !== undefined && value !== '';

/**
 * Applies `EGRESS_ROUTER_ENV_FILE`: its values fill in what the environment leaves unset or empty.
 * The environment always wins, so a pod spec can override a shared ConfigMap.
 */
export function withEnvFile(env: Environment, readFile: ReadFile): Result<Environment> {
  const path = env.EGRESS_ROUTER_ENV_FILE;
  if (!isSet(path)) return ok(env);
  const read = readFile(path);
  if (!read.ok) return fail(problem('config', `EGRESS_ROUTER_ENV_FILE ${quote(path)}`, read.reason));
  const fromFile = parseDotenv(read.text);
  const merged: Record<string, string | undefined> = { ...env };
  for (const name of VARIABLES) {
    if (!isSet(merged[name]) && fromFile[name] !== undefined) merged[name] = fromFile[name];
  }
  return ok(merged);
}

/** Linux interface names: 1-15 characters, none of which can break out of a command or a rule. */
export function validInterfaceName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(name);
}

function parseChoice<T extends string>(env: Environment, name: string, choices: readonly T[], fallback: T, problems: Problem[]): T {
  const value = env[name];
  if (!isSet(value)) return fallback;
  if ((choices as readonly string[]).includes(value)) return value as T;
  problems.push(problem('config', name, `unrecognized value ${quote(value)}; expected one of ${choices.join(', ')}`));
  return fallback;
}

function parseInterface(env: Environment, name: string, fallback: string, problems: Problem[]): string {
  const value = env[name];
  if (!isSet(value)) return fallback;
  if (validInterfaceName(value)) return value;
  problems.push(problem('config', name, `invalid interface name ${quote(value)}; use 1-15 letters, digits, '_', '.' or '-'`));
  return fallback;
}

/** Reads the destination list from exactly one of EGRESS_DESTINATION and EGRESS_DESTINATION_FILE. */
function readDestinationSource(env: Environment, readFile: ReadFile): Result<{ origin: string; text: string }> {
  const inline = env.EGRESS_DESTINATION;
  const path = env.EGRESS_DESTINATION_FILE;
  if (isSet(inline) && isSet(path)) {
    return fail(problem('config', 'EGRESS_DESTINATION_FILE', 'set together with EGRESS_DESTINATION; use one or the other'));
  }
  if (isSet(path)) {
    const origin = `EGRESS_DESTINATION_FILE ${pathName(path)}`;
    const read = readFile(path);
    if (!read.ok) return fail(problem('config', `EGRESS_DESTINATION_FILE ${quote(path)}`, read.reason));
    return ok({ origin, text: read.text });
  }
  if (isSet(inline)) return ok({ origin: 'EGRESS_DESTINATION', text: inline });
  return fail(problem('config', 'EGRESS_DESTINATION', 'unspecified; set it or EGRESS_DESTINATION_FILE'));
}

export function loadDestinations(env: Environment, readFile: ReadFile, family: Family | undefined, statusPort = 0): Result<DestinationList> {
  const source = readDestinationSource(env, readFile);
  if (!source.ok) return source;
  const { list, problems } = parseDestinations(source.value.text, { origin: source.value.origin, family });
  if (problems.length > 0) return fail(...problems);
  if (list.redirects.length === 0 && !list.fallback) {
    return fail(problem('config', source.value.origin, 'has no rules, only comments or blank lines'));
  }
  const clashes = statusPort === 0 ? [] : statusPortClashes(source.value.origin, list, statusPort);
  return clashes.length > 0 ? fail(...clashes) : ok(list);
}

/** Whether a mode keeps running after configuring the pod (and so serves the status endpoint). */
export function longRunning(mode: Mode, env: Environment): boolean {
  if (mode === 'legacy') return true;
  if (mode === 'http-proxy') return isSet(env.EGRESS_HTTP_PROXY_DESTINATION) || isSet(env.EGRESS_HTTP_PROXY_DESTINATION_FILE);
  if (mode === 'dns-proxy') return isSet(env.EGRESS_DNS_PROXY_DESTINATION) || isSet(env.EGRESS_DNS_PROXY_DESTINATION_FILE);
  return false;
}

/** `EGRESS_ROUTER_STATUS_PORT`: a port, or 0 (or `off`) for no status endpoint. */
export function parseStatusPort(env: Environment, problems: Problem[]): number {
  const text = env.EGRESS_ROUTER_STATUS_PORT;
  if (!isSet(text)) return DEFAULT_STATUS_PORT;
  if (text === '0' || text.toLowerCase() === 'off') return 0;
  const port = parsePort(text.trim());
  if (port !== undefined) return port;
  problems.push(problem('config', 'EGRESS_ROUTER_STATUS_PORT', `invalid value ${quote(text)}; use a port from 1 to 65535, or 0 to turn the endpoint off`));
  return DEFAULT_STATUS_PORT;
}

/** A redirect on the status endpoint's port would hide the endpoint from the kubelet. */
function statusPortClashes(origin: string, list: DestinationList, port: number): Problem[] {
  return list.redirects
    .filter((r) => r.protocol === 'tcp' && r.port === port)
    .map((r) =>
      problem('config', `${origin} line ${r.line}`, `port ${port}/tcp is the status endpoint's (EGRESS_ROUTER_STATUS_PORT); redirect another port, or move the endpoint with EGRESS_ROUTER_STATUS_PORT`),
    );
}

/**
 * dns-proxy mode forwards in the kernel: with a DNS proxy list (a one-container pod) its rules
 * are the redirects; without one (the init container of a two-container pod) the redirects start
 * empty and the proxy container fills them in, or relays in user space.
 */
function dnsProxyRedirects(env: Environment, readFile: ReadFile, family: Family | undefined, problems: Problem[]): DestinationList | undefined {
  if (!isSet(env.EGRESS_DNS_PROXY_DESTINATION) && !isSet(env.EGRESS_DNS_PROXY_DESTINATION_FILE)) return family ? noRedirects(family) : undefined;
  const source = readProxyList(env, readFile);
  if (!source.ok) {
    problems.push(...source.problems);
    return undefined;
  }
  const list = loadProxyList(source.value.origin, source.value.text, family);
  if (!list.ok) {
    problems.push(...list.problems);
    return undefined;
  }
  return proxyListAsRedirects(list.value);
}

export function parseConfig(env: Environment, readFile: ReadFile, flags: { dryRun?: boolean } = {}): Result<Config> {
  const problems: Problem[] = [];
  const mode = env.EGRESS_ROUTER_MODE;
  if (isSet(mode) && !(MODES as readonly string[]).includes(mode)) {
    problems.push(problem('config', 'EGRESS_ROUTER_MODE', `unrecognized value ${quote(mode)}; expected one of ${MODES.join(', ')}`));
  }
  const chosenMode: Mode = isSet(mode) && (MODES as readonly string[]).includes(mode) ? (mode as Mode) : 'legacy';

  let source: InterfaceAddress | undefined;
  const sourceText = env.EGRESS_SOURCE;
  if (!isSet(sourceText)) problems.push(problem('config', 'EGRESS_SOURCE', 'unspecified'));
  else {
    const parsed = parseInterfaceAddress(sourceText.trim());
    if (parsed.ok) source = parsed.address;
    else problems.push(problem('config', 'EGRESS_SOURCE', `invalid value ${quote(sourceText)}: ${parsed.reason}`));
  }

  let gateway: IpAddress | undefined;
  const gatewayText = env.EGRESS_GATEWAY;
  if (!isSet(gatewayText)) problems.push(problem('config', 'EGRESS_GATEWAY', 'unspecified'));
  else {
    const parsed = parseUnicastAddress(gatewayText.trim());
    if (!parsed.ok) problems.push(problem('config', 'EGRESS_GATEWAY', `invalid value ${quote(gatewayText)}: ${parsed.reason}`));
    else if (source && parsed.address.family !== source.family) {
      problems.push(problem('config', 'EGRESS_GATEWAY', `${familyName(parsed.address.family)} gateway ${parsed.address.text} does not match the ${familyName(source.family)} EGRESS_SOURCE`));
    } else if (source && parsed.address.text === source.text) {
      problems.push(problem('config', 'EGRESS_GATEWAY', `${parsed.address.text} is EGRESS_SOURCE itself`));
    } else gateway = parsed.address;
  }

  const egressInterface = parseInterface(env, 'EGRESS_ROUTER_INTERFACE', 'macvlan0', problems);
  const clusterInterface = parseInterface(env, 'EGRESS_ROUTER_CLUSTER_INTERFACE', 'eth0', problems);
  if (egressInterface === clusterInterface) {
    problems.push(problem('config', 'EGRESS_ROUTER_INTERFACE', `${egressInterface} is also the cluster interface (EGRESS_ROUTER_CLUSTER_INTERFACE)`));
  }
  const firewall = parseChoice(env, 'EGRESS_ROUTER_FIREWALL', FIREWALLS, 'auto', problems);
  const rpFilter = parseChoice(env, 'EGRESS_ROUTER_RP_FILTER', RP_FILTER_CHOICES, 'loose', problems);
  const statusPort = longRunning(chosenMode, env) ? parseStatusPort(env, problems) : 0;

  const ttl = parseTtlBounds(env);
  if (!ttl.ok) problems.push(...ttl.problems);
  const failover = parseFailoverSettings(env, chosenMode);
  if (!failover.ok) problems.push(...failover.problems);

  // The proxy modes hand EGRESS_DESTINATION to the proxy container, in the proxy's own syntax.
  let destinations: DestinationList | undefined;
  if (chosenMode === 'dns-proxy') {
    destinations = dnsProxyRedirects(env, readFile, source?.family, problems);
  } else if (chosenMode === 'http-proxy') {
    // No redirects: the table is there for its input filter, which keeps the LAN from the proxy.
    destinations = source ? noRedirects(source.family) : undefined;
  } else {
    const loaded = loadDestinations(env, readFile, source?.family, statusPort);
    if (loaded.ok) destinations = loaded.value;
    else problems.push(...loaded.problems);
  }

  if (problems.length > 0 || !source || !gateway || !ttl.ok || !failover.ok) return fail(...problems);
  return ok({
    mode: chosenMode,
    source,
    gateway,
    family: source.family,
    destinations,
    egressInterface,
    clusterInterface,
    firewall,
    debug: isSet(env.EGRESS_ROUTER_DEBUG),
    dryRun: Boolean(flags.dryRun) || ['1', 'true', 'yes'].includes((env.EGRESS_ROUTER_DRY_RUN ?? '').toLowerCase()),
    statusPort,
    resolvConf: isSet(env.EGRESS_ROUTER_RESOLV_CONF) ? env.EGRESS_ROUTER_RESOLV_CONF : DEFAULT_RESOLV_CONF,
    rpFilter,
    ttl: ttl.value,
    ...(failover.value ? { failover: failover.value } : {}),
  });
}
