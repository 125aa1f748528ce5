/**
 * Connections to destinations: only to allowed addresses, in order, each with the connect timeout;
 * the proxy never looks a name up again between the decision and the connection. Tunnels connect
 * here; plain HTTP requests go through a keep-alive HTTP client per address.
 */
import net from 'node:net';
import { Agent } from 'undici';
import type { IpAddress } from '../config/address.js';
import type { ProxyTimeouts } from './settings.js';

export type ConnectResult<A extends IpAddress> =
  | { ok: true; socket: net.Socket; address: A }
  | { ok: false; timedOut: boolean; reason: string };

/** Why a connection failed, in words for the log and the error response. */
export function describeError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    case 'ENETUNREACH':
      return 'network unreachable';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection closed by the destination';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'no connection in time';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'no response in time';
    default:
      return error.code ?? error.message;
  }
}

function connectOne(address: IpAddress, port: number, timeoutMs: number): Promise<{ socket: net.Socket } | { timedOut: boolean; reason: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address.text, port, family: address.family, noDelay: true });
    // The socket's own inactivity timer: cheaper than a timer of its own, and reset on connect.
    socket.setTimeout(timeoutMs);
    const onTimeout = () => {
      socket.destroy();
      resolve({ timedOut: true, reason: `no connection within ${timeoutMs} ms` });
    };
    const onError = (error: NodeJS.ErrnoException) => {
      socket.off('timeout', onTimeout);
      resolve({ timedOut: false, reason: describeError(error) });
    };
    socket.once('timeout', onTimeout);
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.off('timeout', onTimeout);
      socket.off('error', onError);
      resolve({ socket });
    });
  });
}

/** Connects to the first address that answers; reports the last failure when none does. */
export async function connectFirst<A extends IpAddress>(addresses: readonly A[], port: number, timeoutMs: number): Promise<ConnectResult<A>> {
  let timedOut = false;
  const reasons: string[] = [];
  for (const address of addresses) {
    const result = await connectOne(address, port, timeoutMs);
    if ('socket' in result) return { ok: true, socket: result.socket, address };
    timedOut ||= result.timedOut;
    // One address: its reason; several: each address with its own.
    reasons.push(addresses.length === 1 ? result.reason : `${address.family === 6 ? `[${address.text}]` : address.text}: ${result.reason}`);
  }
  return { ok: false, timedOut, reason: reasons.join('; ') || 'no address to connect to' };
}

/** The origin a pool of kept-alive connections is kept under: one checked address and port. */
export const originOf = (address: IpAddress, port: number): string =>
  address.family === 6 ? `http://[${address.text}]:${port}` : `http://${address.text}:${port}`;

/** How long a connection to a destination stays open unused (squid's server_idle_pconn_timeout). */
const IDLE_UPSTREAM_MS = 60_000;

/**
 * The HTTP client for plain requests: undici, keeping connections alive per origin. Origins are
 * always checked addresses, never names, so undici neither looks anything up nor reuses a
 * connection for an address that was not allowed for the request at hand.
 */
export function upstreamAgent(timeouts: ProxyTimeouts, maxHeaderBytes: number): Agent {
  return new Agent({
    connect: { timeout: timeouts.connectMs },
    headersTimeout: timeouts.readMs,
    bodyTimeout: timeouts.readMs,
    // A destination's own Keep-Alive hint, if shorter, wins.
    keepAliveTimeout: Math.min(timeouts.idleMs, IDLE_UPSTREAM_MS),
    keepAliveMaxTimeout: IDLE_UPSTREAM_MS,
    maxHeaderSize: maxHeaderBytes,
    pipelining: 1,
  });
}

/** Errors after which nothing reached the destination: the next allowed address may be tried. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
export const isConnectError = (error: NodeJS.ErrnoException): boolean => CONNECT_ERRORS.has(error.code ?? '');
export const isTimeout = (error: NodeJS.ErrnoException): boolean => error.code === 'UND_ERR_CONNECT_TIMEOUT' || error.code === 'UND_ERR_HEADERS_TIMEOUT';
