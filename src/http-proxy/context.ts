/** What the request handlers share: the access control, the upstream agent, timeouts, counters, logs. */
import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import type { AccessControl } from './access.js';
import type { ProxyMetrics, RequestKind } from './metrics.js';
import type { ProxyTimeouts } from './settings.js';
import type { Agent } from 'undici';

export interface ProxyContext {
  access: AccessControl;
  agent: Agent;
  timeouts: ProxyTimeouts;
  metrics: ProxyMetrics;
  log: Logger;
  accessLog: boolean;
  /** True once stop() began: responses then close their connections. */
  stopping(): boolean;
}

/** One access-log line, the fields squid's access.log had, as JSON. */
export interface RequestRecord {
  kind: RequestKind;
  client: string;
  method: string;
  target: string;
  status: number;
  /** The rule line that allowed or denied, when one did. */
  rule?: number | undefined;
  /** The address connected to. */
  upstream?: string | undefined;
  reason?: string | undefined;
  started: number;
}

export function finished(ctx: ProxyContext, record: RequestRecord): void {
  ctx.metrics.request(record.kind, record.status);
  if (!ctx.accessLog) return;
  const { started, ...fields } = record;
  ctx.log.info({ ...fields, ms: Math.round((performance.now() - started) * 10) / 10 }, 'request');
}

/** The body of the proxy's own error responses: one plain line that says why. */
export const errorText = (reason: string): string => `egress-router: ${reason}\n`;

/** A complete error response in wire form, for connections no longer handled by Node's HTTP server. */
export function rawErrorResponse(status: number, reason: string): string {
  const body = errorText(reason);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
