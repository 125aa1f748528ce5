/**
 * Plain HTTP through the proxy: an absolute-form request is checked, sent to an allowed address
 * of its destination over a kept-alive connection when there is one, and the response streamed
 * back. Errors the proxy answers itself: 400 (not an http:// URL), 403 (denied), 502 (no
 * connection, or the destination broke it), 504 (no connection or no answer in time).
 */
import http from 'node:http';
import type { Access } from './access.js';
import { type ProxyContext, type RequestRecord, errorText, finished } from './context.js';
import { requestHeaders, responseHeaders } from './headers.js';
import type { ResolvedAddress } from './names.js';
import { type Target, parseAbsoluteForm, targetText } from './target.js';
import { type PreconnectedOptions, connectFirst } from './upstream.js';

const clientOf = (req: http.IncomingMessage): string => `${req.socket.remoteAddress}:${req.socket.remotePort}`;

function respondError(ctx: ProxyContext, res: http.ServerResponse, record: RequestRecord, status: number, reason: string): void {
  record.status = status;
  record.reason = reason;
  if (res.headersSent) res.destroy();
  else {
    const body = errorText(reason);
    const headers = ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body))];
    if (ctx.stopping()) headers.push('Connection', 'close');
    res.writeHead(status, headers);
    res.end(body);
  }
  finished(ctx, record);
}

/** A request without a body needs no piping, and may be sent again if a reused connection was stale. */
function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

export function handleRequest(ctx: ProxyContext): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const record: RequestRecord = { kind: 'http', client: clientOf(req), method: req.method ?? '', target: req.url ?? '', status: 0, started: performance.now() };
    const parsed = parseAbsoluteForm(req.url ?? '');
    if (!parsed.ok) {
      req.resume();
      respondError(ctx, res, record, parsed.status, parsed.reason);
      return;
    }
    const target = parsed.target;
    record.target = `${targetText(target)}${target.path}`;
    const access = ctx.access.check(target);
    if (access instanceof Promise) access.then((a) => proceed(ctx, req, res, record, target, a), (error: Error) => respondError(ctx, res, record, 502, error.message));
    else proceed(ctx, req, res, record, target, access);
  };
}

function proceed(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse, record: RequestRecord, target: Target, access: Access): void {
  record.rule = access.line;
  if (!access.ok) {
    if (access.status === 403) ctx.metrics.decision('deny');
    req.resume();
    respondError(ctx, res, record, access.status, access.reason);
    return;
  }
  ctx.metrics.decision('allow');
  if (res.destroyed) return finished(ctx, { ...record, status: 499, reason: 'client went away' });
  const idle = ctx.agent.idleFor(access.addresses, target.port);
  if (idle) send(ctx, req, res, record, target, access.addresses, idle, undefined, true);
  else void connectThenSend(ctx, req, res, record, target, access.addresses);
}

async function connectThenSend(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse, record: RequestRecord, target: Target, addresses: ResolvedAddress[]): Promise<void> {
  const connected = await connectFirst(addresses, target.port, ctx.timeouts.connectMs);
  if (!connected.ok) {
    req.resume();
    respondError(ctx, res, record, connected.timedOut ? 504 : 502, `cannot connect to ${targetText(target)}: ${connected.reason}`);
    return;
  }
  if (res.destroyed) {
    connected.socket.destroy();
    return finished(ctx, { ...record, status: 499, reason: 'client went away' });
  }
  send(ctx, req, res, record, target, addresses, connected.address, connected.socket, false);
}

function send(
  ctx: ProxyContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  record: RequestRecord,
  target: Target,
  addresses: ResolvedAddress[],
  address: ResolvedAddress,
  preconnected: PreconnectedOptions['preconnected'],
  mayRetry: boolean,
): void {
  record.upstream = address.text;
  const { headers } = requestHeaders(req.rawHeaders, target.authority);
  const options: PreconnectedOptions = { agent: ctx.agent, host: address.text, port: target.port, method: req.method, path: target.path, headers, setHost: false, preconnected };
  const upstream = http.request(options);
  // The agent may have found an idle connection meanwhile and left the new one unused.
  if (preconnected) upstream.once('socket', (socket) => socket !== preconnected && preconnected.destroy());
  const body = hasBody(req);
  let responded = false;

  upstream.setTimeout(ctx.timeouts.readMs, () => {
    if (!responded) respondError(ctx, res, record, 504, `no response from ${targetText(target)} within ${ctx.timeouts.readMs} ms`);
    else res.destroy();
    upstream.destroy();
  });
  upstream.on('error', (error: NodeJS.ErrnoException) => {
    if (res.destroyed || res.writableEnded) return;
    if (responded) {
      res.destroy();
      return;
    }
    // An idle connection the destination closed just as it was reused: try once on a new one.
    if (mayRetry && upstream.reusedSocket && !body && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
      void connectThenSend(ctx, req, res, record, target, addresses);
      return;
    }
    respondError(ctx, res, record, 502, `${targetText(target)} (${address.text}): ${error.code ?? error.message}`);
  });
  upstream.on('response', (upstreamRes) => {
    responded = true;
    const headers = responseHeaders(upstreamRes.rawHeaders);
    if (ctx.stopping()) headers.push('Connection', 'close');
    record.status = upstreamRes.statusCode ?? 502;
    try {
      res.writeHead(record.status, upstreamRes.statusMessage, headers);
    } catch (error) {
      upstreamRes.destroy();
      upstream.destroy();
      responded = false;
      respondError(ctx, res, record, 502, `invalid response from ${targetText(target)}: ${(error as Error).message}`);
      return;
    }
    upstreamRes.pipe(res);
    upstreamRes.on('end', () => finished(ctx, record));
    upstreamRes.on('error', () => res.destroy());
  });
  // The client went away before the response was complete: so does the request to the destination.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });

  if (body) req.pipe(upstream);
  else {
    req.resume();
    upstream.end();
  }
}
