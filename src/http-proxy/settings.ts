/**
 * The HTTP proxy's settings: environment in, typed settings out, with every problem at once.
 * Pure: the list file is read through the `readFile` it is given.
 *
 *   EGRESS_HTTP_PROXY_DESTINATION | _FILE   the access list (exactly one of the two)
 *   EGRESS_HTTP_PROXY_PORT                  8080, as the legacy squid container
 *   EGRESS_HTTP_PROXY_MAX_CONNECTIONS       client connections at once (8192, see below)
 *   EGRESS_HTTP_PROXY_ACCESS_LOG            one log line per request when on
 *   EGRESS_HTTP_PROXY_TIMEOUTS              `header=10s idle=2m connect=30s read=15m shutdown=10s`
 *   EGRESS_HTTP_PROXY_MODE                  `unit-test`: print the rules understood, serve nothing
 *   EGRESS_ROUTER_CLUSTER_INTERFACE         where clients connect (eth0); the only place it listens
 *   EGRESS_ROUTER_RESOLV_CONF               the pod's resolver configuration (/etc/resolv.conf)
 *   EGRESS_ROUTER_DEBUG                     debug logs
 */
import { type Environment, type ReadFile, isSet, validInterfaceName } from '../config/config.js';
import { parsePort } from '../config/destinations.js';
import { DEFAULT_RESOLV_CONF } from '../names/resolv-conf.js';
import { type Problem, type Result, fail, ok, pathName, problem, quote } from '../problem.js';
import { type ProxyRules, parseProxyRules } from './rules.js';

export interface ProxyTimeouts {
  /** From the connection (or the previous response) to the end of a request's headers. */
  headerMs: number;
  /** A kept-alive client connection with no request in progress. */
  idleMs: number;
  /** Establishing the TCP connection to a destination address. */
  connectMs: number;
  /** No byte from the destination (before or during the response), or none either way in a tunnel. */
  readMs: number;
  /** After SIGTERM, how long requests in flight may take to finish. */
  shutdownMs: number;
}

/**
 * Squid's defaults where they protect nobody from anybody (idle 2 min as client_idle_pconn_timeout,
 * read 15 min as read_timeout, which long polls rely on); shorter where squid's let a slow client
 * hold a connection for minutes (request headers: 10 s instead of 5 min) or a dead destination
 * hold a request for a minute (connect: 30 s).
 */
export const DEFAULT_TIMEOUTS: ProxyTimeouts = { headerMs: 10_000, idleMs: 120_000, connectMs: 30_000, readMs: 900_000, shutdownMs: 10_000 };
const TIMEOUT_NAMES: Record<string, keyof ProxyTimeouts> = { header: 'headerMs', idle: 'idleMs', connect: 'connectMs', read: 'readMs', shutdown: 'shutdownMs' };

/**
 * Squid stops accepting when it runs out of file descriptors. As packaged by Red Hat, for the
 * legacy image, it has 16,384, and a proxied connection holds two (client and destination): about
 * 8,000 connections. Beyond the cap a client gets a 503 at once instead of a hang.
 */
export const DEFAULT_MAX_CONNECTIONS = 8192;
/** The largest request head accepted (squid's request_header_max_size, 64 KB); larger gets 431. */
export const MAX_HEADER_BYTES = 64 * 1024;

export interface HttpProxySettings {
  /** How messages name the list: `EGRESS_HTTP_PROXY_DESTINATION` or `EGRESS_HTTP_PROXY_DESTINATION_FILE /path`. */
  origin: string;
  rules: ProxyRules;
  /** Accepted lines that are probably not what was meant; logged at start, printed by unit-test mode. */
  warnings: Problem[];
  port: number;
  maxConnections: number;
  maxHeaderBytes: number;
  accessLog: boolean;
  timeouts: ProxyTimeouts;
  unitTest: boolean;
  clusterInterface: string;
  resolvConf: string;
  debug: boolean;
}

/** Whether the environment describes a proxy container: a list, and no router settings. */
export const hasProxyList = (env: Environment): boolean =>
  isSet(env.EGRESS_HTTP_PROXY_DESTINATION) || isSet(env.EGRESS_HTTP_PROXY_DESTINATION_FILE);

/** The list's text from exactly one of EGRESS_HTTP_PROXY_DESTINATION and _FILE. */
export function readProxyList(env: Environment, readFile: ReadFile): Result<{ origin: string; text: string }> {
  const inline = env.EGRESS_HTTP_PROXY_DESTINATION;
  const path = env.EGRESS_HTTP_PROXY_DESTINATION_FILE;
  if (isSet(inline) && isSet(path)) {
    return fail(problem('config', 'EGRESS_HTTP_PROXY_DESTINATION_FILE', 'set together with EGRESS_HTTP_PROXY_DESTINATION; use one or the other'));
  }
  if (isSet(path)) {
    const read = readFile(path);
    if (!read.ok) return fail(problem('config', `EGRESS_HTTP_PROXY_DESTINATION_FILE ${quote(path)}`, read.reason));
    return ok({ origin: `EGRESS_HTTP_PROXY_DESTINATION_FILE ${pathName(path)}`, text: read.text });
  }
  if (isSet(inline)) return ok({ origin: 'EGRESS_HTTP_PROXY_DESTINATION', text: inline });
  return fail(problem('config', 'EGRESS_HTTP_PROXY_DESTINATION', 'unspecified; set it or EGRESS_HTTP_PROXY_DESTINATION_FILE'));
}

function parseCount(env: Environment, name: string, fallback: number, max: number, problems: Problem[]): number {
  const value = env[name];
  if (!isSet(value)) return fallback;
  const trimmed = value.trim();
  const count = /^[1-9][0-9]{0,9}$/.test(trimmed) ? Number(trimmed) : NaN;
  if (count >= 1 && count <= max) return count;
  problems.push(problem('config', name, `invalid value ${quote(value)}; expected a whole number from 1 to ${max}`));
  return fallback;
}

const SWITCH: Record<string, boolean> = { '1': true, true: true, yes: true, on: true, '0': false, false: false, no: false, off: false };

function parseSwitch(env: Environment, name: string, problems: Problem[]): boolean {
  const value = env[name];
  if (!isSet(value)) return false;
  const parsed = SWITCH[value.trim().toLowerCase()];
  if (parsed !== undefined) return parsed;
  problems.push(problem('config', name, `invalid value ${quote(value)}; expected 1, true, yes or on (or 0, false, no, off)`));
  return false;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000 };

/** `header=10s idle=2m ...`: any of the five, separated by blanks or commas; a bare number is seconds. */
export function parseTimeouts(value: string | undefined, problems: Problem[]): ProxyTimeouts {
  const timeouts = { ...DEFAULT_TIMEOUTS };
  if (!isSet(value)) return timeouts;
  const where = 'EGRESS_HTTP_PROXY_TIMEOUTS';
  for (const item of value.split(/[\s,]+/).filter((i) => i !== '')) {
    const match = /^([a-z]+)=([0-9]{1,7})(ms|s|m|)$/.exec(item);
    const key = match ? TIMEOUT_NAMES[match[1]!] : undefined;
    if (!match || !key) {
      problems.push(problem('config', where, `invalid item ${quote(item)}; expected NAME=DURATION with NAME one of ${Object.keys(TIMEOUT_NAMES).join(', ')} and DURATION like 500ms, 10s or 2m`));
      continue;
    }
    const ms = Number(match[2]) * UNIT_MS[match[3]!]!;
    if (ms < 100 || ms > 86_400_000) {
      problems.push(problem('config', where, `${match[1]} ${quote(item)} is out of range; use 100ms to 24 hours`));
      continue;
    }
    timeouts[key] = ms;
  }
  return timeouts;
}

export function parseHttpProxySettings(env: Environment, readFile: ReadFile): Result<HttpProxySettings> {
  const problems: Problem[] = [];
  let origin = 'EGRESS_HTTP_PROXY_DESTINATION';
  let rules: ProxyRules = { rules: [] };
  let warnings: Problem[] = [];
  const list = readProxyList(env, readFile);
  if (!list.ok) problems.push(...list.problems);
  else {
    origin = list.value.origin;
    const parsed = parseProxyRules(list.value.text, origin);
    problems.push(...parsed.problems);
    rules = parsed.rules;
    warnings = parsed.warnings;
  }

  let port = 8080;
  const portText = env.EGRESS_HTTP_PROXY_PORT;
  if (isSet(portText)) {
    const parsed = parsePort(portText.trim());
    if (parsed === undefined) problems.push(problem('config', 'EGRESS_HTTP_PROXY_PORT', `invalid port ${quote(portText)}, must be a number from 1 to 65535`));
    else port = parsed;
  }
  const maxConnections = parseCount(env, 'EGRESS_HTTP_PROXY_MAX_CONNECTIONS', DEFAULT_MAX_CONNECTIONS, 1_000_000, problems);
  const accessLog = parseSwitch(env, 'EGRESS_HTTP_PROXY_ACCESS_LOG', problems);
  const timeouts = parseTimeouts(env.EGRESS_HTTP_PROXY_TIMEOUTS, problems);

  const mode = env.EGRESS_HTTP_PROXY_MODE;
  if (isSet(mode) && mode !== 'unit-test') {
    problems.push(problem('config', 'EGRESS_HTTP_PROXY_MODE', `unrecognized value ${quote(mode)}; expected unit-test, or leave it unset to serve`));
  }
  let clusterInterface = 'eth0';
  const iface = env.EGRESS_ROUTER_CLUSTER_INTERFACE;
  if (isSet(iface)) {
    if (validInterfaceName(iface)) clusterInterface = iface;
    else problems.push(problem('config', 'EGRESS_ROUTER_CLUSTER_INTERFACE', `invalid interface name ${quote(iface)}; use 1-15 letters, digits, '_', '.' or '-'`));
  }

  if (problems.length > 0) return fail(...problems);
  return ok({
    origin,
    rules,
    warnings,
    port,
    maxConnections,
    maxHeaderBytes: MAX_HEADER_BYTES,
    accessLog,
    timeouts,
    unitTest: mode === 'unit-test',
    clusterInterface,
    resolvConf: isSet(env.EGRESS_ROUTER_RESOLV_CONF) ? env.EGRESS_ROUTER_RESOLV_CONF : DEFAULT_RESOLV_CONF,
    debug: isSet(env.EGRESS_ROUTER_DEBUG),
  });
}
