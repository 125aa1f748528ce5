/**
 * The proxy's counters, registered on the Registry the caller shares with the rest of the
 * program (the status endpoint serves it). A request only adds one to a plain number; the
 * prom-client counters take the sums when they are collected, so that counting costs nothing
 * measurable per request.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type RequestKind = 'http' | 'connect' | 'upgrade';

/** Counts by label values, kept as plain numbers until the next collection. */
class Tally {
  private readonly pending = new Map<string, { labels: string[]; count: number }>();

  add(key: string, labels: () => string[]): void {
    const entry = this.pending.get(key);
    if (entry) entry.count++;
    else this.pending.set(key, { labels: labels(), count: 1 });
  }

  /** Hands each sum since the last call to `apply`, and starts again from zero. */
  flush(apply: (labels: string[], count: number) => void): void {
    for (const entry of this.pending.values()) {
      if (entry.count > 0) apply(entry.labels, entry.count);
      entry.count = 0;
    }
  }
}

export class ProxyMetrics {
  private readonly requests = new Tally();
  private readonly decisions = new Tally();
  private refused = 0;

  constructor(registry: Registry, openConnections: () => number) {
    const registers = [registry];
    const { requests, decisions } = this;
    new Counter({
      name: 'egress_router_http_proxy_requests_total',
      help: 'Requests answered by the HTTP proxy, by kind (http, connect, upgrade) and status code',
      labelNames: ['kind', 'code'],
      registers,
      collect() {
        requests.flush(([kind, code], count) => this.inc({ kind: kind!, code: code! }, count));
      },
    });
    new Counter({
      name: 'egress_router_http_proxy_decisions_total',
      help: 'Access decisions of the HTTP proxy, by action (allow, deny)',
      labelNames: ['action'],
      registers,
      collect() {
        decisions.flush(([action], count) => this.inc({ action: action! }, count));
      },
    });
    const refusedSoFar = () => {
      const count = this.refused;
      this.refused = 0;
      return count;
    };
    new Counter({
      name: 'egress_router_http_proxy_refused_connections_total',
      help: 'Client connections closed at once because EGRESS_HTTP_PROXY_MAX_CONNECTIONS were open',
      registers,
      collect() {
        const count = refusedSoFar();
        if (count > 0) this.inc(count);
      },
    });
    new Gauge({
      name: 'egress_router_http_proxy_connections',
      help: 'Client connections open now',
      registers,
      collect() {
        this.set(openConnections());
      },
    });
  }

  request(kind: RequestKind, code: number): void {
    this.requests.add(`${kind}${code}`, () => [kind, String(code)]);
  }

  decision(action: 'allow' | 'deny'): void {
    this.decisions.add(action, () => [action]);
  }

  refusedConnection(): void {
    this.refused++;
  }
}
