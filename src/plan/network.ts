/**
 * The network steps, computed from the configuration and what is already there, so that a
 * restarted pod converges without duplicate addresses, routes or rules.
 */
import { type Family, hostPrefix, inSubnet } from '../config/address.js';
import type { Config } from '../config/config.js';
import type { Observed, RouteEntry, RuleEntry } from './observed.js';
import type { Step } from './plan.js';
import { reversePathSteps } from './reverse-path.js';

/**
 * Replies to clients leave through the cluster interface, via the routes the pod had there
 * before the default moved to the egress interface. They live in this routing table, chosen by
 * two kinds of policy rule at this priority:
 * - `iif <egress>`: forwarded replies of redirected connections, and anything else arriving from
 *   the LAN (which the forward filter then drops unless it belongs to a redirected connection);
 * - `from <cluster address>`: replies the pod itself sends (resets, ICMP, a proxy's answers).
 */
export const REPLY_TABLE = 4552;
export const REPLY_RULE_PRIORITY = 4552;

/** The metric `ip route replace` gives a route without one: IPv6 routes get 1024. */
const DEFAULT_METRIC: Record<Family, number> = { 4: 0, 6: 1024 };

const ipArgs = (family: Family): string[] => ['ip', family === 4 ? '-4' : '-6'];

export const forwardingKey = (family: Family): string => (family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding');

function addressSteps(config: Config, observed: Observed): Step[] {
  const egress = observed.egress;
  const { source, egressInterface: dev } = config;
  const steps: Step[] = [];
  const addresses = egress?.addresses.filter((a) => a.family === config.family && a.scope === 'global') ?? [];
  // A previous source (the ConfigMap changed before this restart) would keep answering ARP.
  for (const stale of addresses.filter((a) => a.text !== source.text || a.prefix !== source.prefix)) {
    steps.push({ kind: 'run', label: 'remove stale source address', argv: [...ipArgs(config.family), 'addr', 'del', `${stale.text}/${stale.prefix}`, 'dev', dev] });
  }
  if (!addresses.some((a) => a.text === source.text && a.prefix === source.prefix)) {
    const argv = [...ipArgs(config.family), 'addr', 'replace', `${source.text}/${source.prefix}`, 'dev', dev];
    // Duplicate address detection would hold an IPv6 source back for a second or more.
    if (config.family === 6) argv.push('nodad');
    steps.push({ kind: 'run', label: 'source address', argv });
  }
  if (!egress?.up) steps.push({ kind: 'run', label: 'link up', argv: ['ip', 'link', 'set', dev, 'up'] });
  return steps;
}

/**
 * With failover on (EGRESS_ROUTER_VRRP_ID), keepalived owns the source address: it adds it on the
 * elected replica only and deletes it everywhere else, so the planner neither adds it nor removes
 * it as stale, whether it is there or not. Other global addresses are still stale. keepalived's
 * own link-local address (scope link) is never touched, like every non-global address.
 */
function failoverAddressSteps(config: Config, observed: Observed): Step[] {
  const egress = observed.egress;
  const { source, egressInterface: dev } = config;
  const steps: Step[] = [];
  const isSource = (a: { text: string; prefix: number }) => a.text === source.text && a.prefix === source.prefix;
  const stale = egress?.addresses.filter((a) => a.family === config.family && a.scope === 'global' && !isSource(a)) ?? [];
  for (const address of stale) {
    steps.push({ kind: 'run', label: 'remove stale source address', argv: [...ipArgs(config.family), 'addr', 'del', `${address.text}/${address.prefix}`, 'dev', dev] });
  }
  if (!egress?.up) steps.push({ kind: 'run', label: 'link up', argv: ['ip', 'link', 'set', dev, 'up'] });
  return steps;
}

function routeArgs(route: RouteEntry): string[] {
  const args = [route.dst];
  if (route.gateway) args.push('via', route.gateway);
  if (route.dev) args.push('dev', route.dev);
  if (route.scope && route.scope !== 'global' && !route.gateway) args.push('scope', route.scope);
  if (route.prefsrc) args.push('src', route.prefsrc);
  if (route.metric !== undefined) args.push('metric', String(route.metric));
  if (route.onlink) args.push('onlink');
  return args;
}

const routeKey = (route: RouteEntry): string => `${route.dst} metric ${route.metric ?? 0}`;
const sameRoute = (a: RouteEntry, b: RouteEntry): boolean => routeArgs(a).join(' ') === routeArgs(b).join(' ');

/** The reply table: the cluster interface's routes, with the default it had before this router. */
function wantedReplyRoutes(config: Config, observed: Observed): RouteEntry[] {
  const onCluster = (r: RouteEntry) => r.dev === config.clusterInterface;
  const fromMain = observed.mainRoutes.filter(onCluster);
  const hasDefault = fromMain.some((r) => r.dst === 'default');
  // On a restart the main default already points at the egress interface; the table kept the old one.
  const keptDefaults = hasDefault ? [] : observed.replyRoutes.filter((r) => onCluster(r) && r.dst === 'default');
  return [...fromMain, ...keptDefaults];
}

function replyRoutingSteps(config: Config, observed: Observed): Step[] {
  const ip = ipArgs(config.family);
  const table = ['table', String(REPLY_TABLE)];
  const wanted = wantedReplyRoutes(config, observed);
  const steps: Step[] = [];
  for (const route of wanted) {
    if (observed.replyRoutes.some((r) => sameRoute(r, route))) continue;
    steps.push({ kind: 'run', label: 'reply route', argv: [...ip, 'route', 'replace', ...routeArgs(route), ...table] });
  }
  const wantedKeys = new Set(wanted.map(routeKey));
  for (const route of observed.replyRoutes.filter((r) => !wantedKeys.has(routeKey(r)))) {
    steps.push({ kind: 'run', label: 'remove stale reply route', argv: [...ip, 'route', 'del', ...routeArgs(route), ...table] });
  }

  const clusterAddresses = observed.cluster?.addresses.filter((a) => a.family === config.family && a.scope === 'global') ?? [];
  // Forwarded replies exist only where the router redirects; in the proxy modes the proxy answers.
  const redirecting = config.destinations !== undefined && forwards(config);
  const wantedRules: RuleEntry[] = [
    ...(redirecting ? [{ priority: REPLY_RULE_PRIORITY, src: 'all', iif: config.egressInterface, table: String(REPLY_TABLE) }] : []),
    ...clusterAddresses.map((a) => ({ priority: REPLY_RULE_PRIORITY, src: a.text, table: String(REPLY_TABLE) })),
    ...nameserverRules(config, observed),
  ];
  const ruleArgs = (rule: RuleEntry): string[] => [
    'priority', String(rule.priority),
    ...(rule.iif ? ['iif', rule.iif] : []),
    ...(rule.src === 'all' ? [] : ['from', rule.srclen === undefined ? rule.src : `${rule.src}/${rule.srclen}`]),
    ...(rule.dst === undefined ? [] : ['to', rule.dstlen === undefined || rule.dstlen === hostPrefix(config.family) ? rule.dst : `${rule.dst}/${rule.dstlen}`]),
    'lookup', rule.table,
  ];
  const sameRule = (a: RuleEntry, b: RuleEntry) => ruleArgs(a).join(' ') === ruleArgs(b).join(' ');
  const ours = observed.rules.filter((r) => r.table === String(REPLY_TABLE));
  for (const stale of ours.filter((r) => !wantedRules.some((w) => sameRule(r, w)))) {
    steps.push({ kind: 'run', label: 'remove stale reply rule', argv: [...ip, 'rule', 'del', ...ruleArgs(stale)] });
  }
  for (const rule of wantedRules.filter((w) => !ours.some((r) => sameRule(r, w)))) {
    steps.push({ kind: 'run', label: 'reply rule', argv: [...ip, 'rule', 'add', ...ruleArgs(rule)] });
  }
  return steps;
}

/**
 * The pod's nameservers stay reachable the way they were before the default route moved to the
 * LAN: through the cluster interface's routes, kept in the reply table. A pod's nameserver is
 * usually the cluster DNS service, which only the cluster network reaches; on a Calico-style pod
 * only the original default route leads there. A nameserver on the egress subnet itself is
 * reached directly and left alone.
 */
function nameserverRules(config: Config, observed: Observed): RuleEntry[] {
  return observed.nameservers
    .filter((ns) => ns.family === config.family && !inSubnet(config.source, ns))
    .map((ns) => ({ priority: REPLY_RULE_PRIORITY, src: 'all', dst: ns.text, table: String(REPLY_TABLE) }));
}

function gatewaySteps(config: Config, observed: Observed, flushesRoutes: boolean): Step[] {
  const ip = ipArgs(config.family);
  const { gateway, egressInterface: dev } = config;
  const steps: Step[] = [];
  const hostRoute = (r: RouteEntry) =>
    (r.dst === gateway.text || r.dst === `${gateway.text}/${hostPrefix(config.family)}`) && r.dev === dev && !r.gateway;
  if (flushesRoutes || !observed.mainRoutes.some(hostRoute)) {
    steps.push({ kind: 'run', label: 'gateway route', argv: [...ip, 'route', 'replace', gateway.text, 'dev', dev] });
  }
  const defaults = observed.mainRoutes.filter((r) => r.dst === 'default');
  const ours = (r: RouteEntry) => r.gateway === gateway.text && r.dev === dev;
  const present = !flushesRoutes && defaults.some(ours);
  if (!present) {
    steps.push({ kind: 'run', label: 'default route', argv: [...ip, 'route', 'replace', 'default', 'via', gateway.text, 'dev', dev] });
  }
  // `replace` takes the place of the default with the family's default metric; any other default
  // would still win some lookups, so it goes.
  const replaced = (r: RouteEntry) => !present && (r.metric ?? 0) === DEFAULT_METRIC[config.family];
  for (const other of defaults.filter((r) => !ours(r) && !replaced(r))) {
    steps.push({ kind: 'run', label: 'remove other default route', argv: [...ip, 'route', 'del', ...routeArgs(other)] });
  }
  return steps;
}

/** The HTTP proxy answers clients itself; every other mode forwards (dns-proxy: its kernel path). */
export const forwards = (config: Config): boolean => config.mode !== 'http-proxy';

/**
 * Whether forwarding (and loose reverse-path filtering) is only prepared, not needed: the init
 * container of a two-container DNS proxy pod sets them up for a proxy container that may take the
 * kernel path, but a proxy without them relays in user space, so a read-only /proc/sys is no
 * reason to refuse the pod.
 */
export const preparesOnly = (config: Config): boolean => config.mode === 'dns-proxy' && (config.destinations?.redirects.length ?? 0) === 0;

function forwardingSteps(config: Config, observed: Observed): Step[] {
  if (!forwards(config)) return [];
  if (observed.forwarding.value === '1') return [];
  if (preparesOnly(config) && !observed.forwarding.writable) return [];
  return [{ kind: 'sysctl', label: 'forwarding', key: forwardingKey(config.family), value: '1' }];
}

/** Who puts the source address on the egress interface: the router, or keepalived (failover on). */
export type SourceOwner = 'router' | 'keepalived';

export function planNetwork(config: Config, observed: Observed, sourceOwner: SourceOwner = 'router'): Step[] {
  const addresses = sourceOwner === 'keepalived' ? failoverAddressSteps(config, observed) : addressSteps(config, observed);
  // Deleting an interface's last IPv4 address makes the kernel flush every route through it (and
  // deleting a primary address takes its secondaries along): the routes observed before may be
  // gone by the time the gateway steps run, so they are put back whatever the probe saw.
  const flushesRoutes = addresses.some((step) => step.label === 'remove stale source address');
  return [
    ...addresses,
    ...replyRoutingSteps(config, observed),
    ...gatewaySteps(config, observed, flushesRoutes),
    ...forwardingSteps(config, observed),
    ...reversePathSteps(config, observed),
  ];
}
