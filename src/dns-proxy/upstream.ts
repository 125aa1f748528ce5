/**
 * Choosing and reaching a destination address for one relayed connection.
 *
 * Spreading: each rule takes its addresses in turn (round robin), skipping the ones the health
 * checker has taken out; when every address is out, all of them are tried anyway, since a
 * connection that might work beats a certain refusal (haproxy refuses then).
 *
 * Reaching: the addresses are tried in that order, staggered (RFC 8305's "Happy Eyeballs"
 * without the families): the next one is tried when the previous refuses, or when it has not
 * answered within 500 ms, the earlier attempts going on meanwhile; the first to connect wins.
 * A server that dies therefore costs new connections half a second, not a failure, in the
 * seconds before the health checks take it out. At most four attempts (haproxy's `retries 3`),
 * and 10 s in all (haproxy's `timeout connect`).
 */
import net from 'node:net';
import type { IpAddress } from '../config/address.js';

export interface UpstreamOptions {
  staggerMs: number;
  timeoutMs: number;
  maxAttempts: number;
  /** TCP keepalive's first probe after this much idleness, on both sides of a relayed connection. */
  keepAliveMs: number;
}

export const DEFAULT_UPSTREAM_OPTIONS: UpstreamOptions = { staggerMs: 500, timeoutMs: 10_000, maxAttempts: 4, keepAliveMs: 60_000 };

/** The order in which to try a rule's addresses for its `turn`-th connection. Pure. */
export function candidateOrder(addresses: readonly IpAddress[], isUp: (address: IpAddress) => boolean, turn: number): IpAddress[] {
  const healthy = addresses.filter(isUp);
  const pool = healthy.length > 0 ? healthy : addresses;
  if (pool.length <= 1) return [...pool];
  const start = turn % pool.length;
  return [...pool.slice(start), ...pool.slice(0, start)];
}

export type UpstreamResult = { ok: true; socket: net.Socket; address: IpAddress } | { ok: false; reason: string };

/**
 * Connects to the first of `candidates` (on `port`) that accepts, as described above. Calls
 * `done` exactly once, unless cancelled; returns the cancel function.
 */
export function connectUpstream(candidates: readonly IpAddress[], port: number, options: UpstreamOptions, done: (result: UpstreamResult) => void): () => void {
  const limit = Math.min(candidates.length, options.maxAttempts);
  const pending = new Set<net.Socket>();
  const errors: string[] = [];
  let next = 0;
  let finished = false;
  let stagger: NodeJS.Timeout | undefined;

  /** Stops every timer and abandons every attempt but the winner's; undefined when cancelled. */
  const finish = (result: UpstreamResult | undefined) => {
    if (finished) return;
    finished = true;
    clearTimeout(stagger);
    clearTimeout(deadline);
    for (const socket of pending) {
      if (result?.ok && socket === result.socket) continue;
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
    }
    pending.clear();
    if (result) done(result);
  };

  const start = (): boolean => {
    clearTimeout(stagger);
    if (next >= limit) return false;
    const address = candidates[next++]!;
    const socket = net.connect({
      host: address.text,
      port,
      allowHalfOpen: true,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: options.keepAliveMs,
    });
    pending.add(socket);
    const onConnect = () => {
      socket.removeListener('error', onError);
      if (finished) {
        socket.on('error', () => undefined);
        socket.resetAndDestroy();
        return;
      }
      finish({ ok: true, socket, address });
    };
    const onError = (error: NodeJS.ErrnoException) => {
      pending.delete(socket);
      socket.removeListener('connect', onConnect);
      errors.push(`${address.text}: ${error.code ?? error.message}`);
      if (finished) return;
      if (!start() && pending.size === 0) finish({ ok: false, reason: errors.join(', ') });
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    if (next < limit) stagger = setTimeout(start, options.staggerMs);
    return true;
  };

  const deadline = setTimeout(() => {
    const waiting = errors.length > 0 ? `${errors.join(', ')}; ` : '';
    finish({ ok: false, reason: `${waiting}no connection within ${options.timeoutMs} ms` });
  }, options.timeoutMs);
  if (!start()) finish({ ok: false, reason: 'no address to connect to' });
  return () => finish(undefined);
}
