/**
 * The HTTP proxy service: one Node HTTP server per address of the cluster interface, sharing the
 * handlers, one connection cap across them, and the limits that keep slow or hostile clients
 * from holding it: request headers within the header timeout and under the size cap, kept-alive
 * connections closed after the idle timeout, connections beyond the cap closed at once (squid
 * left them waiting in the listen queue).
 *
 * What the lead composes around it (status endpoint, reload, the one-container mode) uses only
 * startHttpProxy and the small HttpProxyService it returns.
 */
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { NameResolver } from '../names/resolver.js';
import { type Result, fail, ok, problem } from '../problem.js';
import { AccessControl } from './access.js';
import { type ProxyContext, rawErrorResponse } from './context.js';
import { handleRequest } from './forward.js';
import { type Interfaces, endpointText, listenAddresses } from './listen.js';
import { ProxyMetrics } from './metrics.js';
import { NameCache } from './names.js';
import type { ProxyRules } from './rules.js';
import type { HttpProxySettings } from './settings.js';
import { type TunnelSet, handleConnect, handleUpgrade } from './tunnel.js';
import { upstreamAgent } from './upstream.js';

export interface HttpProxyService {
  /** Where it listens: `10.128.0.5:8080`. */
  listening: string[];
  /** New rules for the requests decided from now on. */
  updateRules(rules: ProxyRules): void;
  /** Stops accepting, lets requests in flight finish for up to graceMs, then closes everything. */
  stop(graceMs: number): Promise<void>;
}

export interface HttpProxyDeps {
  log: Logger;
  registry: Registry;
  resolver: NameResolver;
  /** The network interfaces (os.networkInterfaces by default). */
  interfaces?: () => Interfaces;
}

/** How the client error Node's parser reports becomes a status. */
function clientErrorStatus(error: NodeJS.ErrnoException): number {
  if (error.code === 'HPE_HEADER_OVERFLOW') return 431;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

function listenOnce(server: http.Server, host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException) => resolve(error);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true, backlog: 4096 }, () => {
      server.off('error', onError);
      resolve(undefined);
    });
  });
}

/** How long an address may stay unusable at start: an IPv6 address is tentative during DAD. */
const ADDRESS_SETTLE_MS = 3000;

async function listen(server: http.Server, host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  const deadline = Date.now() + ADDRESS_SETTLE_MS;
  for (;;) {
    const error = await listenOnce(server, host, port);
    if (error?.code !== 'EADDRNOTAVAIL' || Date.now() >= deadline) return error;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts the proxy on every address of the cluster interface. Its counters are registered on
 * `deps.registry`, so one registry takes one proxy. Fails (kind 'environment') when the interface
 * has no address or a listener cannot be opened.
 */
export async function startHttpProxy(settings: HttpProxySettings, deps: HttpProxyDeps): Promise<Result<HttpProxyService>> {
  const addresses = listenAddresses(settings.clusterInterface, (deps.interfaces ?? os.networkInterfaces)());
  if (!addresses.ok) return addresses;
  const log = deps.log;
  const connections = new Set<net.Socket>();
  const tunnels: TunnelSet = new Set();
  let stopping = false;
  const access = new AccessControl(settings.rules, new NameCache(deps.resolver));
  const agent = upstreamAgent(settings.timeouts, settings.maxHeaderBytes);
  const metrics = new ProxyMetrics(deps.registry, () => connections.size);
  const ctx: ProxyContext = { access, agent, timeouts: settings.timeouts, metrics, log, accessLog: settings.accessLog, stopping: () => stopping };

  const onRequest = handleRequest(ctx);
  const onConnect = handleConnect(ctx, tunnels);
  const onUpgrade = handleUpgrade(ctx, tunnels);
  const onConnection = (socket: net.Socket) => {
    // Each server already drops connections beyond the cap ('drop'); this covers the sum of them.
    if (connections.size >= settings.maxConnections) {
      metrics.refusedConnection();
      socket.destroy();
      return;
    }
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  };
  const onClientError = (error: NodeJS.ErrnoException, socket: net.Socket) => {
    // A client that went away, or a connection already answering: nothing to say to it.
    if (error.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) {
      socket.destroy();
      return;
    }
    const status = clientErrorStatus(error);
    metrics.request('http', status);
    if (settings.accessLog) log.info({ kind: 'http', client: `${socket.remoteAddress}:${socket.remotePort}`, status, reason: error.code }, 'request');
    socket.end(rawErrorResponse(status, status === 431 ? `request headers over ${settings.maxHeaderBytes} bytes` : status === 408 ? 'request headers not received in time' : 'malformed request'));
    socket.destroySoon();
  };

  const servers: http.Server[] = [];
  const listening: string[] = [];
  for (const address of addresses.value) {
    const server = http.createServer({
      maxHeaderSize: settings.maxHeaderBytes,
      headersTimeout: settings.timeouts.headerMs,
      // Bodies may stream for long (uploads); the destination side's read timeout bounds them.
      requestTimeout: 0,
      keepAliveTimeout: settings.timeouts.idleMs,
      connectionsCheckingInterval: Math.min(1000, settings.timeouts.headerMs / 2),
      requireHostHeader: false,
      noDelay: true,
    });
    server.maxConnections = settings.maxConnections;
    server.on('drop', () => metrics.refusedConnection());
    server.on('connection', onConnection);
    server.on('request', onRequest);
    server.on('connect', onConnect);
    server.on('upgrade', onUpgrade);
    server.on('clientError', onClientError);
    const error = await listen(server, address, settings.port);
    const endpoint = endpointText(address, settings.port);
    if (error) {
      for (const s of servers) s.close();
      return fail(problem('environment', `listen on ${endpoint}`, error.message));
    }
    servers.push(server);
    listening.push(endpoint);
  }

  const stop = async (graceMs: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const closed = Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    // Connections become idle as their last response ends; close each then, until none is left.
    const deadline = Date.now() + graceMs;
    while (connections.size > 0 && Date.now() < deadline) {
      for (const s of servers) s.closeIdleConnections();
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    if (connections.size > 0) log.warn({ connections: connections.size, tunnels: tunnels.size }, 'closing connections still busy after the grace period');
    for (const socket of connections) socket.destroy();
    await agent.destroy();
    await closed;
  };

  return ok({ listening, updateRules: (rules) => access.update(rules), stop });
}
