/**
 * Failover settings: the VRRP variables in, typed settings out (pure). `EGRESS_ROUTER_VRRP_ID`
 * turns failover on; without it every other VRRP variable is an error, and nothing changes.
 */
import type { Environment, Mode } from '../config/config.js';
import { type Problem, type Result, fail, ok, problem, quote } from '../problem.js';

export interface FailoverSettings {
  /** VRRP virtual router id: the replicas that share one source address share it, and nothing else on the LAN may. */
  routerId: number;
  /** VRRP priority; equal on every replica of a Deployment, so no replica is preferred over another. */
  priority: number;
  /** Advertisement interval in milliseconds; a takeover comes about 3.5 intervals after the holder's last advert. */
  advertIntervalMs: number;
  /** Where keepalived's configuration, pid files and notification FIFO live: a writable, pod-private directory. */
  workDir: string;
}

/** The variables this module reads, for EGRESS_ROUTER_ENV_FILE's list of known names. */
export const FAILOVER_VARIABLES = [
  'EGRESS_ROUTER_VRRP_ID',
  'EGRESS_ROUTER_VRRP_PRIORITY',
  'EGRESS_ROUTER_VRRP_INTERVAL_MS',
  'EGRESS_ROUTER_VRRP_DIR',
] as const;

/**
 * RFC 5798's default backup priority. Every replica of a Deployment gets the same value, so the
 * holder is simply the replica that came up first; with `nopreempt` it keeps the address until it
 * fails. 255 would mean "address owner" (take the address at once on every start: flapping), 0
 * means "resigning", so neither can be configured.
 */
export const DEFAULT_PRIORITY = 100;
/**
 * 200 ms: a backup takes over 3 x 200 ms + skew (about 120 ms at priority 100) after the holder's
 * last advertisement, well inside the 3 s target even with the Service's readiness delay on top,
 * while a node busy enough to delay keepalived by half a second still does not cause a false
 * takeover. Five small multicast packets a second are nothing on a LAN.
 */
export const DEFAULT_ADVERT_INTERVAL_MS = 200;
export const ADVERT_INTERVAL_RANGE_MS = { min: 50, max: 1000 } as const;
/** A mount point of its own (an emptyDir) in the documented pod spec; /run is on the read-only root. */
export const DEFAULT_WORK_DIR = '/run/egress-router';

/** Failover needs a process that stays: the supervisor lives in the router's long-running modes. */
const LONG_RUNNING: readonly Mode[] = ['legacy', 'http-proxy', 'dns-proxy'];

const isSet = (value: string | undefined): value is string => value !== undefined && value !== '';
const decimal = (text: string): number | undefined => (/^[1-9][0-9]{0,5}$/.test(text) ? Number(text) : undefined);

function parseNumber(env: Environment, name: string, min: number, max: number, why: string, problems: Problem[]): number | undefined {
  const text = env[name];
  if (!isSet(text)) return undefined;
  const value = decimal(text);
  if (value !== undefined && value >= min && value <= max) return value;
  problems.push(problem('config', name, `invalid value ${quote(text)}: ${why}`));
  return undefined;
}

/**
 * keepalived reads its configuration as whitespace-separated words with `#` and `!` comments,
 * so the directory must be one plain word; it must be absolute to mean the same to both programs.
 */
function parseWorkDir(env: Environment, problems: Problem[]): string {
  const text = env.EGRESS_ROUTER_VRRP_DIR;
  if (!isSet(text)) return DEFAULT_WORK_DIR;
  if (!/^\/[A-Za-z0-9_.,:@%+=\/-]{0,199}$/.test(text) || text.split('/').includes('..')) {
    problems.push(problem('config', 'EGRESS_ROUTER_VRRP_DIR', `invalid value ${quote(text)}: use an absolute path of at most 200 letters, digits and _ . , : @ % + = - /, without '..'`));
  }
  return text.length > 1 ? text.replace(/\/+$/, '') : text;
}

/** The failover settings, or undefined when EGRESS_ROUTER_VRRP_ID is unset (failover off). */
export function parseFailoverSettings(env: Environment, mode: Mode): Result<FailoverSettings | undefined> {
  const problems: Problem[] = [];
  if (!isSet(env.EGRESS_ROUTER_VRRP_ID)) {
    for (const name of FAILOVER_VARIABLES.slice(1)) {
      if (isSet(env[name])) problems.push(problem('config', name, 'set without EGRESS_ROUTER_VRRP_ID, which turns failover on; set both or neither'));
    }
    return problems.length > 0 ? fail(...problems) : ok(undefined);
  }
  const routerId = parseNumber(env, 'EGRESS_ROUTER_VRRP_ID', 1, 255, 'a VRRP router id is a number from 1 to 255, the same on every replica and unused by any other VRRP router on the LAN', problems);
  const priority =
    parseNumber(env, 'EGRESS_ROUTER_VRRP_PRIORITY', 1, 254, 'a VRRP priority is a number from 1 to 254 (255 is the address owner, which would take the address back at every start)', problems) ??
    DEFAULT_PRIORITY;
  const { min, max } = ADVERT_INTERVAL_RANGE_MS;
  let advertIntervalMs =
    parseNumber(env, 'EGRESS_ROUTER_VRRP_INTERVAL_MS', min, max, `the advertisement interval is a number of milliseconds from ${min} to ${max}`, problems) ??
    DEFAULT_ADVERT_INTERVAL_MS;
  if (advertIntervalMs % 10 !== 0) {
    problems.push(problem('config', 'EGRESS_ROUTER_VRRP_INTERVAL_MS', `invalid value ${quote(String(advertIntervalMs))}: VRRPv3 counts in hundredths of a second; use a multiple of 10`));
    advertIntervalMs = DEFAULT_ADVERT_INTERVAL_MS;
  }
  const workDir = parseWorkDir(env, problems);
  if (!LONG_RUNNING.includes(mode) && mode !== 'unit-test') {
    problems.push(problem('config', 'EGRESS_ROUTER_VRRP_ID', `failover needs a router that stays up (EGRESS_ROUTER_MODE ${LONG_RUNNING.join(', ')}); mode ${mode} exits after configuring the pod`));
  }
  if (problems.length > 0 || routerId === undefined) return fail(...problems);
  return ok({ routerId, priority, advertIntervalMs, workDir });
}
