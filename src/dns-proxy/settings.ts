/**
 * The DNS proxy container's environment, the legacy one plus this project's variables:
 *
 *   EGRESS_DNS_PROXY_DESTINATION       the list (or EGRESS_DNS_PROXY_DESTINATION_FILE, a path; one of the two)
 *   EGRESS_DNS_PROXY_MODE              `unit-test`: print the rules understood and exit
 *   EGRESS_DNS_PROXY_DEBUG             non-empty: debug logs (EGRESS_ROUTER_DEBUG works too)
 *   EGRESS_ROUTER_CLUSTER_INTERFACE    where clients connect (default eth0); the only interface listened on
 *   EGRESS_ROUTER_RESOLV_CONF          the resolver configuration (default /etc/resolv.conf)
 *   EGRESS_ROUTER_DNS_MIN_TTL/MAX_TTL  the floor and ceiling of re-resolution, in seconds
 *   EGRESS_SOURCE                      optional; its family is the family names resolve in
 *
 * Pure: files are read through the `readFile` it is given.
 */
import { type Family, parseInterfaceAddress } from '../config/address.js';
import { type Environment, type ReadFile, validInterfaceName } from '../config/config.js';
import { DEFAULT_RESOLV_CONF } from '../names/resolv-conf.js';
import { type TtlBounds, parseTtlBounds } from '../names/schedule.js';
import { type Problem, type Result, fail, ok, pathName, problem, quote } from '../problem.js';
import { type ProxyList, parseProxyDestinations } from './destinations.js';

export interface DnsProxySettings {
  /** How messages name the list. */
  origin: string;
  list: ProxyList;
  unitTest: boolean;
  debug: boolean;
  clusterInterface: string;
  resolvConf: string;
  ttl: TtlBounds;
}

const isSet = (value: string | undefined): value is string => value !== undefined && value !== '';

/**
 * Whether a run with no command is the legacy DNS proxy container: its variables are there (even
 * empty, so that an empty list gets the legacy message) and EGRESS_SOURCE is not, since the
 * router's own modes always have it.
 */
export function isDnsProxyContainer(env: Environment): boolean {
  if (isSet(env.EGRESS_SOURCE)) return false;
  return ['EGRESS_DNS_PROXY_DESTINATION', 'EGRESS_DNS_PROXY_DESTINATION_FILE', 'EGRESS_DNS_PROXY_MODE'].some((name) => env[name] !== undefined);
}

/** Reads the list from exactly one of EGRESS_DNS_PROXY_DESTINATION and EGRESS_DNS_PROXY_DESTINATION_FILE. */
export function readProxyList(env: Environment, readFile: ReadFile): Result<{ origin: string; text: string }> {
  const inline = env.EGRESS_DNS_PROXY_DESTINATION;
  const path = env.EGRESS_DNS_PROXY_DESTINATION_FILE;
  if (isSet(inline) && isSet(path)) {
    return fail(problem('config', 'EGRESS_DNS_PROXY_DESTINATION_FILE', 'set together with EGRESS_DNS_PROXY_DESTINATION; use one or the other'));
  }
  if (isSet(path)) {
    const read = readFile(path);
    if (!read.ok) return fail(problem('config', `EGRESS_DNS_PROXY_DESTINATION_FILE ${quote(path)}`, read.reason));
    return ok({ origin: `EGRESS_DNS_PROXY_DESTINATION_FILE ${pathName(path)}`, text: read.text });
  }
  // The legacy message, word for word, without a `where`: it names the variable itself.
  if (!isSet(inline)) return fail(problem('config', '', 'Must specify EGRESS_DNS_PROXY_DESTINATION (or EGRESS_DNS_PROXY_DESTINATION_FILE)'));
  return ok({ origin: 'EGRESS_DNS_PROXY_DESTINATION', text: inline });
}

/** Parses a list as the proxy would, with every problem; an empty list (only comments) is one. */
export function loadProxyList(origin: string, text: string, family: Family | undefined): Result<ProxyList> {
  const { list, problems } = parseProxyDestinations(text, { origin, family });
  if (problems.length > 0) return fail(...problems);
  if (list.rules.length === 0) return fail(problem('config', origin, 'has no rules, only comments or blank lines'));
  return ok(list);
}

function sourceFamily(env: Environment, problems: Problem[]): Family | undefined {
  if (!isSet(env.EGRESS_SOURCE)) return undefined;
  const parsed = parseInterfaceAddress(env.EGRESS_SOURCE.trim());
  if (parsed.ok) return parsed.address.family;
  problems.push(problem('config', 'EGRESS_SOURCE', `invalid value ${quote(env.EGRESS_SOURCE)}: ${parsed.reason}`));
  return undefined;
}

export function parseDnsProxySettings(env: Environment, readFile: ReadFile): Result<DnsProxySettings> {
  const problems: Problem[] = [];
  const mode = env.EGRESS_DNS_PROXY_MODE;
  if (isSet(mode) && mode !== 'unit-test') {
    problems.push(problem('config', 'EGRESS_DNS_PROXY_MODE', `unrecognized value ${quote(mode)}; expected unit-test, or leave it unset`));
  }
  let clusterInterface = 'eth0';
  const interfaceText = env.EGRESS_ROUTER_CLUSTER_INTERFACE;
  if (isSet(interfaceText)) {
    if (validInterfaceName(interfaceText)) clusterInterface = interfaceText;
    else problems.push(problem('config', 'EGRESS_ROUTER_CLUSTER_INTERFACE', `invalid interface name ${quote(interfaceText)}; use 1-15 letters, digits, '_', '.' or '-'`));
  }
  const ttl = parseTtlBounds(env);
  if (!ttl.ok) problems.push(...ttl.problems);
  const family = sourceFamily(env, problems);

  let origin = 'EGRESS_DNS_PROXY_DESTINATION';
  let list: ProxyList | undefined;
  const source = readProxyList(env, readFile);
  if (source.ok) {
    origin = source.value.origin;
    const loaded = loadProxyList(origin, source.value.text, family);
    if (loaded.ok) list = loaded.value;
    else problems.push(...loaded.problems);
  } else problems.push(...source.problems);

  if (problems.length > 0 || !list || !ttl.ok) return fail(...problems);
  return ok({
    origin,
    list,
    unitTest: mode === 'unit-test',
    debug: isSet(env.EGRESS_DNS_PROXY_DEBUG) || isSet(env.EGRESS_ROUTER_DEBUG),
    clusterInterface,
    resolvConf: isSet(env.EGRESS_ROUTER_RESOLV_CONF) ? env.EGRESS_ROUTER_RESOLV_CONF : DEFAULT_RESOLV_CONF,
    ttl: ttl.value,
  });
}
