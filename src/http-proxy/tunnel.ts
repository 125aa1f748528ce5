/**
 * Byte streams through the proxy: CONNECT tunnels (HTTPS, or anything else, to any port the
 * rules allow for the host) and HTTP Upgrade (WebSocket), whose request is forwarded and whose
 * connection then carries whatever the two ends say. Either stream ends when either side closes
 * it or nothing moves for the read timeout.
 */
import type http from 'node:http';
import type net from 'node:net';
import type { Access } from './access.js';
import { type ProxyContext, type RequestRecord, finished, rawErrorResponse } from './context.js';
import { requestHeaders, serializeRequestHead } from './headers.js';
import type { RequestKind } from './metrics.js';
import { type Target, type TargetResult, parseAbsoluteForm, parseConnectTarget, targetText } from './target.js';
import { connectFirst } from './upstream.js';

/** Open tunnels, so that stop() can end the ones still open when its grace period is over. */
export type TunnelSet = Set<net.Socket>;

function refuse(ctx: ProxyContext, client: net.Socket, record: RequestRecord, status: number, reason: string): void {
  record.status = status;
  record.reason = reason;
  if (client.writable) client.end(rawErrorResponse(status, reason));
  client.destroySoon();
  finished(ctx, record);
}

/**
 * Forwards what `from` reads to `to`, pausing `from` while `to` is full: what pipe() does, without
 * the stream plumbing that costs more than the bytes in a short tunnel.
 */
function forward(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

/** Joins two sockets; each closes the other, and silence for `idleMs` closes both. */
function join(client: net.Socket, upstream: net.Socket, idleMs: number, tunnels: TunnelSet): void {
  tunnels.add(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
    tunnels.delete(client);
  };
  for (const socket of [client, upstream]) {
    socket.setTimeout(idleMs, close);
    socket.on('error', close);
    socket.on('close', close);
  }
  forward(client, upstream);
  forward(upstream, client);
}

const ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n', 'latin1');

function tunnelHandler(
  ctx: ProxyContext,
  tunnels: TunnelSet,
  kind: RequestKind,
  parse: (req: http.IncomingMessage) => TargetResult,
  opening: (req: http.IncomingMessage, target: Target) => string | undefined,
): (req: http.IncomingMessage, client: net.Socket, head: Buffer) => void {
  return (req, client, head) => {
    client.on('error', () => client.destroy());
    const record: RequestRecord = { kind, client: ctx.accessLog ? `${client.remoteAddress}:${client.remotePort}` : '', method: req.method ?? '', target: req.url ?? '', status: 0, started: performance.now() };
    if (ctx.stopping()) return refuse(ctx, client, record, 503, 'the proxy is stopping');
    const parsed = parse(req);
    if (!parsed.ok) return refuse(ctx, client, record, parsed.status, parsed.reason);
    const target = parsed.target;
    record.target = kind === 'connect' ? targetText(target) : `${targetText(target)}${target.path}`;
    const go = async (access: Access) => {
      record.rule = access.line;
      if (!access.ok) {
        if (access.status === 403) ctx.metrics.decision('deny');
        return refuse(ctx, client, record, access.status, access.reason);
      }
      ctx.metrics.decision('allow');
      const connected = await connectFirst(access.addresses, target.port, ctx.timeouts.connectMs);
      if (!connected.ok) return refuse(ctx, client, record, connected.timedOut ? 504 : 502, `cannot connect to ${targetText(target)}: ${connected.reason}`);
      const upstream = connected.socket;
      record.upstream = connected.address.text;
      if (client.destroyed) {
        upstream.destroy();
        return finished(ctx, { ...record, status: 499, reason: 'client went away' });
      }
      const toUpstream = opening(req, target);
      if (toUpstream === undefined) client.write(ESTABLISHED);
      else upstream.write(toUpstream);
      if (head.length > 0) upstream.write(head);
      join(client, upstream, ctx.timeouts.readMs, tunnels);
      record.status = kind === 'connect' ? 200 : 101;
      finished(ctx, record);
    };
    const access = ctx.access.check(target);
    const started = access instanceof Promise ? access.then(go) : go(access);
    started.catch((error: Error) => refuse(ctx, client, record, 502, error.message));
  };
}

/** `CONNECT host:port`: answered with 200 once the destination accepted the connection. */
export const handleConnect = (ctx: ProxyContext, tunnels: TunnelSet) =>
  tunnelHandler(ctx, tunnels, 'connect', (req) => parseConnectTarget(req.url ?? ''), () => undefined);

/** A request with Upgrade: forwarded with its Upgrade field; the destination's answer goes back raw. */
export const handleUpgrade = (ctx: ProxyContext, tunnels: TunnelSet) =>
  tunnelHandler(
    ctx,
    tunnels,
    'upgrade',
    (req) => parseAbsoluteForm(req.url ?? ''),
    (req, target) => serializeRequestHead(req.method ?? 'GET', target.path, requestHeaders(req.rawHeaders, target.authority, true)),
  );
