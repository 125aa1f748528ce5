/**
 * The relay in-process, on loopback: destinations on 127.0.0.2 and 127.0.0.3, the relay on
 * 127.0.0.1, a name watcher and health checker on a fake clock with a scripted resolver and
 * connect function. The namespace tests (test/integration/dns-proxy.test.ts) run the container.
 */
import net from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProxyList, ProxyRule } from '../../../src/dns-proxy/destinations.js';
import { type Relay, startDnsProxyRelay } from '../../../src/dns-proxy/relay.js';
import { HealthChecker } from '../../../src/health/checker.js';
import type { Resolution } from '../../../src/names/resolver.js';
import { NameWatcher } from '../../../src/names/watcher.js';
import { FakeClock, settle } from '../../support/fake-clock.js';

const v4 = (text: string) => ({ family: 4 as const, text });
const LISTEN = v4('127.0.0.1');
const [A, B] = [v4('127.0.0.2'), v4('127.0.0.3')];

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A destination: answers "<its address> got <n>" once the client has sent everything (a half
 * close), or at once with "<its address>" when `eager`.
 */
async function destination(address: string, port: number, eager: boolean): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    if (eager) {
      socket.end(address);
      return;
    }
    let received = 0;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('end', () => socket.end(`${address} got ${received}`));
  });
  await new Promise<void>((resolve) => server.listen(port, address, resolve));
  return server;
}

/** One connection to the relay: what came back before the end, or the error. */
function exchange(port: number, send?: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => {
      if (send !== undefined) socket.end(send);
    });
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (reply += chunk));
    socket.on('end', () => {
      socket.end();
      resolve(reply);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`));
  });
}

describe('the relay (loopback)', () => {
  const servers: net.Server[] = [];
  let clock: FakeClock;
  let answers: Record<string, Resolution>;
  let dead: Set<string>;
  let watcher: NameWatcher;
  let health: HealthChecker;
  let registry: Registry;
  let logs: { msg: string }[];
  let relay: Relay | undefined;
  let echoPort: number;
  let eagerPort: number;

  beforeEach(async () => {
    clock = new FakeClock();
    answers = {};
    dead = new Set();
    logs = [];
    registry = new Registry();
    watcher = new NameWatcher({
      family: 4,
      clock,
      resolver: { resolve: async (name) => answers[name] ?? { ok: false, kind: 'nxdomain', reason: 'no such name' } },
    });
    health = new HealthChecker({ clock, connect: async (t) => (dead.has(t.address.text) ? { ok: false, reason: 'ECONNREFUSED' } : { ok: true }) });
    [echoPort, eagerPort] = [await freePort(), await freePort()];
    for (const address of [A, B]) {
      servers.push(await destination(address.text, echoPort, false), await destination(address.text, eagerPort, true));
    }
  });

  afterEach(async () => {
    await relay?.stop(0);
    relay = undefined;
    watcher.stop();
    health.stop();
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  const log = () => pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const rule = (port: number, target: ProxyRule['target'], targetPort: number, line = 1): ProxyRule => ({ line, port, target, targetPort });
  const list = (...rules: ProxyRule[]): ProxyList => ({ family: 4, rules });

  async function start(proxyList: ProxyList): Promise<Relay> {
    const started = await startDnsProxyRelay(proxyList, { log: log(), registry, watcher, health, listenOn: [LISTEN] });
    if (!started.ok) throw new Error(JSON.stringify(started.problems));
    relay = started.value;
    await settle();
    return relay;
  }

  it('relays to an address, the client half-closing first, every byte both ways', async () => {
    const port = await freePort();
    await start(list(rule(port, { kind: 'address', address: A }, echoPort)));
    expect(await exchange(port, 'x'.repeat(1_000_000))).toBe('127.0.0.2 got 1000000');
  });

  it('spreads connections over the addresses of a name in turn', async () => {
    answers['two.example.com'] = { ok: true, addresses: [A, B], ttlSeconds: 60 };
    const port = await freePort();
    await start(list(rule(port, { kind: 'name', name: 'two.example.com' }, eagerPort)));
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await exchange(port));
    expect(replies).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.2', '127.0.0.3']);
  });

  it('skips an address the health checks took out', async () => {
    answers['two.example.com'] = { ok: true, addresses: [A, B], ttlSeconds: 60 };
    dead.add('127.0.0.3');
    const port = await freePort();
    await start(list(rule(port, { kind: 'name', name: 'two.example.com' }, eagerPort)));
    await clock.advance(4000);
    expect(health.isUp({ address: B, port: eagerPort })).toBe(false);
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await exchange(port));
    expect(replies).toEqual(['127.0.0.2', '127.0.0.2', '127.0.0.2']);
  });

  it('tries every address when the health checks took them all out, and says so', async () => {
    answers['two.example.com'] = { ok: true, addresses: [A, B], ttlSeconds: 60 };
    dead.add('127.0.0.2').add('127.0.0.3');
    const port = await freePort();
    await start(list(rule(port, { kind: 'name', name: 'two.example.com' }, eagerPort)));
    await clock.advance(4000);
    expect(logs.map((l) => l.msg)).toContain(`port ${port}: every address of two.example.com failed its health checks; trying them all anyway`);
    expect(await exchange(port)).toBe('127.0.0.2');
    dead.delete('127.0.0.3');
    await clock.advance(4000);
    expect(logs.map((l) => l.msg)).toContain(`port ${port}: 127.0.0.3:${eagerPort} is back, 1 of 2 addresses in`);
  });

  it('resets connections to a name without addresses, says why, and relays once it resolves', async () => {
    const [unresolved, other] = [await freePort(), await freePort()];
    await start(list(rule(unresolved, { kind: 'name', name: 'later.example.com' }, eagerPort), rule(other, { kind: 'address', address: B }, eagerPort, 2)));
    expect(await exchange(unresolved)).toBe('error ECONNRESET');
    expect(await exchange(other)).toBe('127.0.0.3');
    expect(logs.map((l) => l.msg)).toContain(`port ${unresolved} refuses connections until later.example.com resolves: no such name`);
    answers['later.example.com'] = { ok: true, addresses: [A], ttlSeconds: 60 };
    await clock.advance(5000);
    expect(await exchange(unresolved)).toBe('127.0.0.2');
    expect(logs.map((l) => l.msg)).toContain(`port ${unresolved} relays to later.example.com: 127.0.0.2:${eagerPort}`);
    const metrics = await registry.getSingleMetricAsString('egress_router_dns_proxy_connections_total');
    expect(metrics).toContain(`egress_router_dns_proxy_connections_total{port="${unresolved}",result="refused_unresolved"} 1`);
    expect(metrics).toContain(`egress_router_dns_proxy_connections_total{port="${unresolved}",result="relayed"} 1`);
  });

  it('updates its rules: opens new ports, closes removed ones, retargets kept ones', async () => {
    const [kept, removed, added] = [await freePort(), await freePort(), await freePort()];
    await start(list(rule(kept, { kind: 'address', address: A }, eagerPort), rule(removed, { kind: 'address', address: A }, eagerPort)));
    const updated = await relay!.update(list(rule(kept, { kind: 'address', address: B }, eagerPort), rule(added, { kind: 'address', address: A }, eagerPort)));
    expect(updated).toEqual({ ok: true, value: undefined });
    expect(await exchange(kept)).toBe('127.0.0.3');
    expect(await exchange(added)).toBe('127.0.0.2');
    expect(await exchange(removed)).toBe('error ECONNREFUSED');
  });

  it('keeps its rules when an update cannot open a port', async () => {
    const port = await freePort();
    await start(list(rule(port, { kind: 'address', address: A }, eagerPort)));
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    servers.push(taken);
    const busy = (taken.address() as net.AddressInfo).port;
    const updated = await relay!.update(list(rule(busy, { kind: 'address', address: A }, eagerPort)));
    expect(updated.ok ? [] : updated.problems.map((p) => `${p.where}: ${p.message}`)).toEqual([`port ${busy} on 127.0.0.1: cannot listen: EADDRINUSE`]);
    expect(await exchange(port)).toBe('127.0.0.2');
  });

  it('refuses a change of family, which the watcher cannot follow', async () => {
    await start(list(rule(await freePort(), { kind: 'address', address: A }, eagerPort)));
    const updated = await relay!.update({ family: 6, rules: [] });
    expect(updated.ok).toBe(false);
  });

  it('stops accepting at stop, lets an open connection finish within the grace period', async () => {
    const port = await freePort();
    await start(list(rule(port, { kind: 'address', address: A }, echoPort)));
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('abc');
    const reply = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk) => (text += chunk));
      socket.on('end', () => resolve(text));
    });
    const stopping = relay!.stop(5000);
    relay = undefined;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await exchange(port)).toBe('error ECONNREFUSED');
    socket.end('de');
    expect(await reply).toBe('127.0.0.2 got 5');
    await stopping;
  });

  it('resets what is still open when the grace period is over', async () => {
    const port = await freePort();
    await start(list(rule(port, { kind: 'address', address: A }, echoPort)));
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('never ends');
    const closed = new Promise<string>((resolve) => socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await relay!.stop(100);
    relay = undefined;
    expect(await closed).toBe('ECONNRESET');
  });
});
