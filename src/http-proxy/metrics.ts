/**
 * The proxy's counters, registered on the Registry the caller shares with the rest of the
 * program (the status endpoint serves it). Label children are cached, so that counting a
 * request costs a map lookup and an addition.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type RequestKind = 'http' | 'connect' | 'upgrade';

export class ProxyMetrics {
  private readonly requests: Counter<'kind' | 'code'>;
  private readonly decisions: Counter<'action'>;
  private readonly refused: Counter;
  private readonly children = new Map<string, { inc: () => void }>();

  constructor(registry: Registry, openConnections: () => number) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'egress_router_http_proxy_requests_total',
      help: 'Requests answered by the HTTP proxy, by kind (http, connect, upgrade) and status code',
      labelNames: ['kind', 'code'],
      registers,
    });
    this.decisions = new Counter({
      name: 'egress_router_http_proxy_decisions_total',
      help: 'Access decisions of the HTTP proxy, by action (allow, deny)',
      labelNames: ['action'],
      registers,
    });
    this.refused = new Counter({
      name: 'egress_router_http_proxy_refused_connections_total',
      help: 'Client connections refused because EGRESS_HTTP_PROXY_MAX_CONNECTIONS were open',
      registers,
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

  private child(key: string, make: () => { inc: () => void }): { inc: () => void } {
    let child = this.children.get(key);
    if (!child) this.children.set(key, (child = make()));
    return child;
  }

  request(kind: RequestKind, code: number): void {
    this.child(`r ${kind} ${code}`, () => this.requests.labels(kind, String(code))).inc();
  }

  decision(action: 'allow' | 'deny'): void {
    this.child(`d ${action}`, () => this.decisions.labels(action)).inc();
  }

  refusedConnection(): void {
    this.refused.inc();
  }
}
