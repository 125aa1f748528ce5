/**
 * Plain HTTP through the proxy: an absolute-form request is checked, sent to an allowed address
 * of its destination over a kept-alive connection (undici), and the response streamed back with
 * backpressure both ways. Errors the proxy answers itself: 400 (not an http:// URL), 403
 * (denied), 502 (no connection, or the destination broke it), 504 (no connection or no answer in
 * time). A failed connection moves on to the next allowed address.
 */
import type http from 'node:http';
import type { Dispatcher } from 'undici';
import type { Access } from './access.js';
import { type ProxyContext, type RequestRecord, errorText, finished } from './context.js';
import { requestHeaders, responseHeaders } from './headers.js';
import type { ResolvedAddress } from './names.js';
import { type Target, parseAbsoluteForm, targetText } from './target.js';
import { describeError, isConnectError, isTimeout, originOf } from './upstream.js';

/** The client, for the access log only: asking the kernel for the peer costs a system call. */
const clientOf = (ctx: ProxyContext, req: http.IncomingMessage): string => (ctx.accessLog ? `${req.socket.remoteAddress}:${req.socket.remotePort}` : '');

function respondError(ctx: ProxyContext, res: http.ServerResponse, record: RequestRecord, status: number, reason: string): void {
  record.status = status;
  record.reason = reason;
  if (res.headersSent) res.destroy();
  else if (!res.destroyed) {
    const body = errorText(reason);
    const headers = ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body))];
    if (ctx.stopping()) headers.push('Connection', 'close');
    res.writeHead(status, headers);
    res.end(body);
  }
  finished(ctx, record);
}

/** Whether the client sends a body: it is then streamed, and a failed attempt cannot be repeated. */
function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

export function handleRequest(ctx: ProxyContext): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const record: RequestRecord = { kind: 'http', client: clientOf(ctx, req), method: req.method ?? '', target: req.url ?? '', status: 0, started: performance.now() };
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
  new Exchange(ctx, req, res, record, target, access.addresses).send();
}

/**
 * One request to the destination and its response, as undici's dispatch handler: it may try
 * several addresses (connection errors) and once more on a fresh connection when a kept-alive one
 * turned out closed, as long as no body was read and no response began.
 */
class Exchange implements Dispatcher.DispatchHandlers {
  private index = 0;
  private retried = false;
  private responding = false;
  private abort: ((error?: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private waitingForDrain = false;
  private readonly headers: string[];
  private readonly body: http.IncomingMessage | null;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly record: RequestRecord,
    private readonly target: Target,
    private readonly addresses: ResolvedAddress[],
  ) {
    this.headers = requestHeaders(req.rawHeaders, target.authority);
    this.body = hasBody(req) ? req : null;
    if (!this.body) req.resume();
    // The client went away before the response was complete: so does the request it made.
    res.on('close', () => {
      if (!res.writableFinished) this.abort?.();
    });
  }

  send(): void {
    const address = this.addresses[this.index]!;
    this.record.upstream = address.text;
    const options: Dispatcher.DispatchOptions = {
      origin: originOf(address, this.target.port),
      path: this.target.path,
      method: this.req.method as Dispatcher.HttpMethod,
      headers: this.headers,
      body: this.body,
    };
    try {
      this.ctx.agent.dispatch(options, this);
    } catch (error) {
      // undici refuses what it cannot send faithfully (a duplicate Content-Length, say).
      respondError(this.ctx, this.res, this.record, 400, `cannot forward this request: ${(error as Error).message}`);
    }
  }

  onConnect(abort: (error?: Error) => void): void {
    this.abort = abort;
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx informational answers (100 Continue is Node's to send) are not passed on.
    if (status < 200) return true;
    this.responding = true;
    this.resume = resume;
    const headers = responseHeaders(raw);
    if (this.ctx.stopping()) headers.push('Connection', 'close');
    this.record.status = status;
    try {
      this.res.writeHead(status, statusText, headers);
    } catch (error) {
      this.abort?.(error as Error);
      return false;
    }
    return true;
  }

  /** Backpressure: undici stops reading until the client has taken what was written. */
  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    if (!this.waitingForDrain) {
      this.waitingForDrain = true;
      this.res.once('drain', () => {
        this.waitingForDrain = false;
        this.resume?.();
      });
    }
    return false;
  }

  onComplete(): void {
    this.res.end();
    finished(this.ctx, this.record);
  }

  onError(error: NodeJS.ErrnoException): void {
    const { ctx, res, record, target } = this;
    if (res.destroyed) return;
    if (this.responding) {
      // The status line is gone already: all the client can learn is that the response broke off.
      res.destroy();
      record.reason = `response cut short: ${describeError(error)}`;
      finished(ctx, record);
      return;
    }
    const bodyUntouched = this.body === null || !this.body.readableDidRead;
    if (isConnectError(error) && bodyUntouched && this.index + 1 < this.addresses.length) {
      this.index++;
      this.send();
      return;
    }
    // A kept-alive connection the destination closed just as it was reused: once more, fresh.
    if (error.code === 'UND_ERR_SOCKET' && this.body === null && !this.retried) {
      this.retried = true;
      this.send();
      return;
    }
    const status = isTimeout(error) ? 504 : 502;
    const what = error.code === 'UND_ERR_HEADERS_TIMEOUT' ? `no response within ${ctx.timeouts.readMs} ms` : describeError(error);
    respondError(ctx, res, record, status, `${targetText(target)} (${record.upstream}): ${what}`);
  }
}
