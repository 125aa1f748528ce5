/**
 * Connections to destinations. A new connection tries the allowed addresses in order, each with
 * the connect timeout, and only those: the proxy never looks a name up again between the decision
 * and the connection. Plain HTTP requests reuse idle connections through a keep-alive agent,
 * which receives the connections made here instead of making its own.
 */
import http from 'node:http';
import net from 'node:net';
import type { IpAddress } from '../config/address.js';

export type ConnectResult<A extends IpAddress> =
  | { ok: true; socket: net.Socket; address: A }
  | { ok: false; timedOut: boolean; reason: string };

/** Most connections a destination address keeps idle for reuse (the agent's default is 256). */
const MAX_IDLE_PER_DESTINATION = 256;

/** Why a connection failed, in words for the log and the error response. */
function describeError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    case 'ENETUNREACH':
      return 'network unreachable';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return error.code ?? error.message;
  }
}

function connectOne(address: IpAddress, port: number, timeoutMs: number): Promise<{ socket: net.Socket } | { timedOut: boolean; reason: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address.text, port, family: address.family, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ timedOut: true, reason: `no connection within ${timeoutMs} ms` });
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve({ socket });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ timedOut: false, reason: describeError(error) });
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

/** Request options that hand the agent a connection made by connectFirst. */
export interface PreconnectedOptions extends http.RequestOptions {
  preconnected?: net.Socket;
}

/**
 * A keep-alive agent whose new connections are the ones connectFirst made. It pools them by
 * address and port, so a reused connection always goes to an address that was checked for it.
 */
export class UpstreamAgent extends http.Agent {
  constructor(idleMs: number) {
    super({ keepAlive: true, maxFreeSockets: MAX_IDLE_PER_DESTINATION, scheduling: 'lifo', timeout: idleMs });
  }

  override createConnection(options: PreconnectedOptions): net.Socket {
    const socket = options.preconnected;
    if (socket && !socket.destroyed) {
      // Used once: the options object outlives this call in the agent's bookkeeping.
      options.preconnected = undefined;
      return socket;
    }
    // The idle connection chosen for this request closed meanwhile: connect to the same address,
    // which was checked for this request.
    return net.connect({ host: options.host!, port: Number(options.port), noDelay: true });
  }

  /** The first of `addresses` with an idle connection to `port`, if any. */
  idleFor<A extends IpAddress>(addresses: readonly A[], port: number): A | undefined {
    for (const address of addresses) {
      const idle = this.freeSockets[this.getName({ host: address.text, port })];
      if (idle && idle.length > 0) return address;
    }
    return undefined;
  }
}
