/**
 * The status endpoint: /livez, /readyz and /metrics over plain HTTP, bound only to the addresses
 * of the pod's cluster interface, so that the kubelet and Prometheus reach it while nothing on the
 * node's LAN (the macvlan side) can.
 */
import { type Server, createServer } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { Registry } from 'prom-client';
import { type Result, fail, ok, problem } from '../problem.js';

/** The documented default port (EGRESS_ROUTER_STATUS_PORT). */
export const DEFAULT_STATUS_PORT = 9552;

export interface Readiness {
  ready: boolean;
  /** Why not, one line each (empty when ready). */
  reasons: string[];
}

export interface StatusServer {
  /** `address:port` for each socket, for the log. */
  listening: string[];
  close(): Promise<void>;
}

/**
 * The addresses to serve on: the interface's global IPv4 and IPv6 addresses. Link-local IPv6
 * addresses are left out: they need a zone, and nothing probes a pod through them.
 */
export function interfaceAddresses(name: string): string[] {
  const entries = networkInterfaces()[name] ?? [];
  return entries.filter((e) => !e.internal && !(e.family === 'IPv6' && e.address.toLowerCase().startsWith('fe80:'))).map((e) => e.address);
}

function listen(server: Server, host: string, port: number): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const onError = (error: Error) => resolve(error);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve(undefined);
    });
  });
}

export async function startStatusServer(options: {
  interfaceName: string;
  port: number;
  readiness: () => Readiness;
  registry: Registry;
}): Promise<Result<StatusServer>> {
  const hosts = interfaceAddresses(options.interfaceName);
  const where = `EGRESS_ROUTER_STATUS_PORT ${options.port}`;
  if (hosts.length === 0) {
    return fail(problem('environment', where, `interface ${options.interfaceName} has no address to serve the status endpoint on`));
  }
  const handler = createHandler(options.readiness, options.registry);
  const servers: Server[] = [];
  for (const host of hosts) {
    const server = createServer(handler);
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    const error = await listen(server, host, options.port);
    if (error) {
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      return fail(problem('environment', where, `cannot listen on ${host}: ${error.message}`));
    }
    servers.push(server);
  }
  return ok({
    listening: hosts.map((h) => (h.includes(':') ? `[${h}]:${options.port}` : `${h}:${options.port}`)),
    close: async () => {
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    },
  });
}

function createHandler(readiness: () => Readiness, registry: Registry) {
  return (request: import('node:http').IncomingMessage, response: import('node:http').ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0];
    const text = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'method not allowed\n');
    if (path === '/livez') return text(200, 'ok\n');
    if (path === '/readyz') {
      const state = readiness();
      return state.ready ? text(200, 'ready\n') : text(503, `not ready:\n${state.reasons.map((r) => `- ${r}\n`).join('')}`);
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (body) => text(200, body, registry.contentType),
        (error: Error) => text(500, `metrics failed: ${error.message}\n`),
      );
      return;
    }
    text(404, 'not found; try /livez, /readyz or /metrics\n');
  };
}
