/**
 * The DNS proxy's user-space TCP relay, for pods where the kernel cannot forward for it (a proxy
 * container without NET_ADMIN). It listens on every rule's port, on the cluster interface's
 * addresses only (never on macvlan0, which the node's LAN reaches), and relays each connection
 * to one address of the rule's destination: names through the NameWatcher, spread over their
 * addresses, skipping those the HealthChecker has taken out (upstream.ts).
 *
 * A rule whose name has no address (not resolved yet, NXDOMAIN) resets its connections at once;
 * the other ports work, and the log says which port and why. Bytes move by stream piping, with
 * back-pressure and no copies; half-closes are relayed (allowHalfOpen), resets propagated.
 */
import net from 'node:net';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type IpAddress, familyName, withPort } from '../config/address.js';
import type { HealthChecker, HealthTarget } from '../health/checker.js';
import type { NameWatcher } from '../names/watcher.js';
import { type Problem, type Result, fail, ok, problem } from '../problem.js';
import { type ProxyList, type ProxyRule, proxyNames, targetText } from './destinations.js';
import { closeServer, listen, listenAddresses } from './listen.js';
import { type PortMetrics, type RelayMetrics, createRelayMetrics } from './metrics.js';
import { DEFAULT_UPSTREAM_OPTIONS, type UpstreamOptions, candidateOrder, connectUpstream } from './upstream.js';

/** The owner key under which the relay watches names and health-check targets. */
export const RELAY_OWNER = 'dns-proxy';

export interface RelayDeps {
  log: Logger;
  registry: Registry;
  /** Resolves names, in the list's family. */
  watcher: NameWatcher;
  health: HealthChecker;
  /** Where clients connect; only its addresses are listened on. Default eth0. */
  clusterInterface?: string;
  /** Injectable for tests; os.networkInterfaces by default. */
  networkInterfaces?: () => NodeJS.Dict<os.NetworkInterfaceInfo[]>;
  /** Listen on these addresses instead of the cluster interface's (tests on loopback). */
  listenOn?: IpAddress[];
  upstream?: Partial<UpstreamOptions>;
}

export interface Relay {
  /** The addresses listened on. */
  readonly addresses: readonly IpAddress[];
  /** Replaces the rules: new ports open, removed ones close (their connections go on). */
  update(list: ProxyList): Promise<Result<void>>;
  /** Stops accepting, lets connections finish for up to `graceMs`, then resets the rest. */
  stop(graceMs: number): Promise<void>;
}

interface Port {
  rule: ProxyRule;
  servers: net.Server[];
  metrics: PortMetrics;
  turn: number;
}

interface Pair {
  client: net.Socket;
  upstream?: net.Socket;
  cancel?: () => void;
}

class UserSpaceRelay implements Relay {
  private readonly ports = new Map<number, Port>();
  private readonly active = new Set<Pair>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly options: UpstreamOptions;
  private readonly metrics: RelayMetrics;
  private stopping = false;
  /** Per port, what the log last said it relays to. */
  private readonly reported = new Map<number, string>();
  /** Per port, when an upstream failure was last logged above debug, to keep floods out of the log. */
  private readonly warnedAt = new Map<number, number>();

  constructor(readonly addresses: readonly IpAddress[], private readonly deps: RelayDeps) {
    this.options = { ...DEFAULT_UPSTREAM_OPTIONS, ...deps.upstream };
    this.metrics = createRelayMetrics(deps.registry);
    this.metrics.setDestinations(() => this.destinationCounts());
    this.unsubscribe.push(deps.watcher.onChange((status) => this.nameChanged(status.name)));
    this.unsubscribe.push(deps.health.onChange((target) => this.healthChanged(target)));
  }

  /** Opens listeners for every port of `list` not open yet; all or nothing. */
  async openPorts(list: ProxyList): Promise<Result<Map<number, net.Server[]>>> {
    const opened = new Map<number, net.Server[]>();
    const problems: Problem[] = [];
    for (const rule of list.rules) {
      if (this.ports.has(rule.port)) continue;
      const servers: net.Server[] = [];
      for (const address of this.addresses) {
        const result = await listen(address, rule.port, (socket) => this.accept(rule.port, socket), this.deps.log);
        if (result.ok) servers.push(result.value);
        else problems.push(...result.problems);
      }
      opened.set(rule.port, servers);
    }
    if (problems.length === 0) return ok(opened);
    await Promise.all([...opened.values()].flat().map(closeServer));
    return fail(...problems);
  }

  /** Makes `list` the rules in force, with the listeners `opened` for its new ports. */
  apply(list: ProxyList, opened: Map<number, net.Server[]>): void {
    const wanted = new Map(list.rules.map((r) => [r.port, r]));
    for (const [port, entry] of this.ports) {
      if (wanted.has(port)) continue;
      for (const server of entry.servers) server.close();
      this.ports.delete(port);
    }
    for (const rule of list.rules) {
      const existing = this.ports.get(rule.port);
      if (existing) existing.rule = rule;
      else this.ports.set(rule.port, { rule, servers: opened.get(rule.port) ?? [], metrics: this.metrics.forPort(rule.port), turn: 0 });
    }
    this.deps.watcher.watch(proxyNames(list), RELAY_OWNER);
    this.refreshHealthTargets();
    for (const entry of this.ports.values()) this.report(entry.rule);
  }

  async update(list: ProxyList): Promise<Result<void>> {
    if (this.stopping) return fail(problem('environment', 'dns proxy', 'the relay is stopping'));
    if (list.family !== this.deps.watcher.family) {
      return fail(problem('config', 'dns proxy', `the list is ${familyName(list.family)} now and was ${familyName(this.deps.watcher.family)}; a change of family needs a restart`));
    }
    const opened = await this.openPorts(list);
    if (!opened.ok) return opened;
    this.apply(list, opened.value);
    this.deps.log.info({ ports: list.rules.map((r) => r.port) }, 'dns proxy rules updated');
    return ok(undefined);
  }

  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const off of this.unsubscribe) off();
    const closing = [...this.ports.values()].flatMap((p) => p.servers.map(closeServer));
    this.ports.clear();
    this.deps.watcher.watch([], RELAY_OWNER);
    this.deps.health.watch([], RELAY_OWNER);
    const deadline = Date.now() + graceMs;
    while (this.active.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    if (this.active.size > 0) this.deps.log.info({ connections: this.active.size }, 'grace period over; resetting the connections still open');
    for (const pair of [...this.active]) this.resetPair(pair);
    await Promise.all(closing);
  }

  /** The addresses a rule relays to now. */
  private addressesOf(rule: ProxyRule): IpAddress[] {
    if (rule.target.kind === 'address') return [rule.target.address];
    return this.deps.watcher.current(rule.target.name)?.addresses ?? [];
  }

  private refreshHealthTargets(): void {
    const targets: HealthTarget[] = [];
    for (const { rule } of this.ports.values()) for (const address of this.addressesOf(rule)) targets.push({ address, port: rule.targetPort });
    this.deps.health.watch(targets, RELAY_OWNER);
  }

  private destinationCounts(): { port: number; up: number; down: number }[] {
    return [...this.ports.values()].map(({ rule }) => {
      const up = this.addressesOf(rule).filter((address) => this.deps.health.isUp({ address, port: rule.targetPort })).length;
      return { port: rule.port, up, down: this.addressesOf(rule).length - up };
    });
  }

  /** Says when every address of a rule is out (they are then all tried anyway), and when one is back. */
  private healthChanged(target: HealthTarget): void {
    if (this.stopping) return;
    for (const { rule } of this.ports.values()) {
      if (rule.targetPort !== target.port) continue;
      const addresses = this.addressesOf(rule);
      if (!addresses.some((a) => a.text === target.address.text)) continue;
      const up = addresses.filter((address) => this.deps.health.isUp({ address, port: rule.targetPort })).length;
      const fields = { port: rule.port, destination: targetText(rule.target), up, addresses: addresses.length };
      if (up === 0) this.deps.log.warn(fields, `port ${rule.port}: every address of ${targetText(rule.target)} failed its health checks; trying them all anyway`);
      else if (up === 1 && this.deps.health.isUp(target)) this.deps.log.info(fields, `port ${rule.port}: ${withPort(target.address, target.port)} is back, ${up} of ${addresses.length} addresses in`);
    }
  }

  private nameChanged(name: string): void {
    if (this.stopping) return;
    this.refreshHealthTargets();
    for (const { rule } of this.ports.values()) if (rule.target.kind === 'name' && rule.target.name === name) this.report(rule);
  }

  /**
   * Says where a rule's port relays to whenever that changes: the addresses of its name, or that
   * it refuses connections because the name has none, and why.
   */
  private report(rule: ProxyRule): void {
    if (rule.target.kind !== 'name') return;
    const name = rule.target.name;
    const addresses = this.addressesOf(rule);
    const status = this.deps.watcher.current(name);
    const state = addresses.length > 0 ? addresses.map((a) => a.text).join(' ') : `none (${status?.last})`;
    const key = `${name} ${rule.targetPort} ${state}`;
    if (this.reported.get(rule.port) === key) return;
    this.reported.set(rule.port, key);
    if (addresses.length > 0) {
      const list = addresses.map((a) => withPort(a, rule.targetPort)).join(', ');
      this.deps.log.info({ port: rule.port, host: name, addresses: addresses.map((a) => a.text) }, `port ${rule.port} relays to ${name}: ${list}`);
      return;
    }
    const why = status?.error ?? (status?.last === 'pending' ? 'its first lookup is not done yet' : 'no addresses');
    this.deps.log.warn({ port: rule.port, host: name, line: rule.line, reason: why }, `port ${rule.port} refuses connections until ${name} resolves: ${why}`);
  }

  private accept(port: number, client: net.Socket): void {
    const entry = this.ports.get(port);
    client.on('error', () => undefined);
    if (!entry || this.stopping) {
      client.resetAndDestroy();
      return;
    }
    const { rule } = entry;
    const addresses = this.addressesOf(rule);
    if (addresses.length === 0) {
      entry.metrics.connection('refused_unresolved');
      client.resetAndDestroy();
      return;
    }
    client.setNoDelay(true);
    client.setKeepAlive(true, this.options.keepAliveMs);
    const candidates = candidateOrder(addresses, (address) => this.deps.health.isUp({ address, port: rule.targetPort }), entry.turn++);
    const pair: Pair = { client };
    this.active.add(pair);
    entry.metrics.opened();
    client.once('close', () => {
      this.active.delete(pair);
      entry.metrics.closed(client.bytesRead, client.bytesWritten);
    });
    // Paused until piped (pauseOnConnect), the client is not read, and its data, end or reset
    // wait in the kernel until the destination is reached; an error now comes from writing.
    client.once('error', () => this.resetPair(pair));
    pair.cancel = connectUpstream(candidates, rule.targetPort, this.options, (result) => {
      pair.cancel = undefined;
      if (!result.ok) {
        entry.metrics.connection('upstream_failed');
        this.upstreamFailed(rule, result.reason);
        client.resetAndDestroy();
        return;
      }
      entry.metrics.connection('relayed');
      const upstream = result.socket;
      pair.upstream = upstream;
      upstream.on('error', () => this.resetPair(pair));
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  /** Ends both sides with a reset, so that each peer learns the other is gone. */
  private resetPair(pair: Pair): void {
    pair.cancel?.();
    pair.cancel = undefined;
    for (const socket of [pair.client, pair.upstream]) {
      if (!socket || socket.destroyed) continue;
      if (socket.connecting) socket.destroy();
      else socket.resetAndDestroy();
    }
  }

  private upstreamFailed(rule: ProxyRule, reason: string): void {
    const now = Date.now();
    const fields = { port: rule.port, destination: targetText(rule.target), targetPort: rule.targetPort, reason };
    const message = `port ${rule.port}: no address of ${targetText(rule.target)} accepted the connection (${reason})`;
    if (now - (this.warnedAt.get(rule.port) ?? -Infinity) < 10_000) {
      this.deps.log.debug(fields, message);
      return;
    }
    this.warnedAt.set(rule.port, now);
    this.deps.log.warn(fields, `${message}; further failures on this port within 10 s are logged at debug level`);
  }
}

/** Starts the relay for `list`; fails without listening on anything if a port cannot be opened. */
export async function startDnsProxyRelay(list: ProxyList, deps: RelayDeps): Promise<Result<Relay>> {
  const clusterInterface = deps.clusterInterface ?? 'eth0';
  if (list.family !== deps.watcher.family) {
    return fail(problem('config', 'dns proxy', `the list is ${familyName(list.family)} but the name watcher resolves ${familyName(deps.watcher.family)}`));
  }
  const addresses = deps.listenOn ? ok(deps.listenOn) : listenAddresses(clusterInterface, (deps.networkInterfaces ?? os.networkInterfaces)());
  if (!addresses.ok) return addresses;
  const relay = new UserSpaceRelay(addresses.value, deps);
  const opened = await relay.openPorts(list);
  if (!opened.ok) return opened;
  relay.apply(list, opened.value);
  deps.log.info(
    { interface: clusterInterface, addresses: addresses.value.map((a) => a.text), ports: list.rules.map((r) => r.port) },
    `dns proxy relay listening on ${addresses.value.map((a) => a.text).join(', ')} (${clusterInterface}), ports ${list.rules.map((r) => r.port).join(', ')}`,
  );
  return ok(relay);
}
