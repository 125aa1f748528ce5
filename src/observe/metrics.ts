/**
 * The router's own metrics, on one prom-client registry that the proxies and the failover
 * supervisor register theirs on too. Traffic counters live in the kernel's ruleset and are read
 * when Prometheus scrapes (`setTrafficSource`), so the router keeps no copy that could drift.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Traffic of one redirect rule, as read back from the ruleset's counters. */
export interface RuleTraffic {
  protocol: string;
  /** The pod's port the rule redirects; `fallback` for the fallback rule. */
  port: number | 'fallback';
  /** New connections (the first packet of each, counted where the redirect is looked up). */
  connections: number;
  /** Packets and bytes towards the destination (out) and back (in); nftables only. */
  out?: { packets: number; bytes: number };
  in?: { packets: number; bytes: number };
}

export interface TrafficSnapshot {
  rules: RuleTraffic[];
  /** Forwarded packets dropped because they were not redirected. */
  forwardDropped: number;
}

export type TrafficSource = () => Promise<TrafficSnapshot | undefined>;

export interface RouterMetrics {
  registry: Registry;
  reloads: Counter<'result'>;
  lastGoodReload: Gauge;
  configInfo: Gauge<'hash'>;
  ready: Gauge;
  syncs: Counter<'kind' | 'result'>;
  syncSeconds: Histogram<'kind'>;
  setTrafficSource(source: TrafficSource | undefined): void;
  setConfigHash(hash: string): void;
}

/**
 * The traffic source gives nothing for lists without per-rule counters (over 1,000 rules by
 * default, src/system/traffic.ts): reading them would cost each scrape seconds.
 */
export function createRouterMetrics(options: { version: string }): RouterMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let traffic: TrafficSource | undefined;
  let snapshot: Promise<TrafficSnapshot | undefined> | undefined;
  // One read of the ruleset per scrape, shared by every metric that needs it.
  const read = (): Promise<TrafficSnapshot | undefined> => {
    snapshot ??= (traffic?.() ?? Promise.resolve(undefined)).finally(() => setTimeout(() => (snapshot = undefined), 100).unref());
    return snapshot;
  };

  new Gauge({
    name: 'egress_router_build_info',
    help: 'Build information; the value is always 1',
    labelNames: ['version', 'node_version'],
    registers: [registry],
  }).set({ version: options.version, node_version: process.version }, 1);

  const configInfo = new Gauge({
    name: 'egress_router_config_info',
    help: 'The applied configuration, as a hash of its variables and files; the value is always 1',
    labelNames: ['hash'],
    registers: [registry],
  });

  const ruleLabels = ['protocol', 'port'] as const;
  new Counter({
    name: 'egress_router_rule_connections_total',
    help: 'New connections redirected by each rule (port "fallback" for the fallback)',
    labelNames: ruleLabels,
    registers: [registry],
    async collect() {
      this.reset();
      const s = await read();
      for (const r of s?.rules ?? []) this.inc({ protocol: r.protocol, port: String(r.port) }, r.connections);
    },
  });
  for (const [unit, key] of [['packets', 'packets'], ['bytes', 'bytes']] as const) {
    new Counter({
      name: `egress_router_rule_${unit}_total`,
      help: `${unit === 'bytes' ? 'Bytes' : 'Packets'} of redirected connections per rule and direction (out: to the destination; nftables only)`,
      labelNames: [...ruleLabels, 'direction'],
      registers: [registry],
      async collect() {
        this.reset();
        const s = await read();
        for (const r of s?.rules ?? []) {
          for (const direction of ['out', 'in'] as const) {
            const value = r[direction]?.[key];
            if (value !== undefined) this.inc({ protocol: r.protocol, port: String(r.port), direction }, value);
          }
        }
      },
    });
  }
  new Counter({
    name: 'egress_router_redirected_connections_total',
    help: 'New connections redirected, all rules together',
    registers: [registry],
    async collect() {
      this.reset();
      const s = await read();
      if (s) this.inc(s.rules.reduce((sum, r) => sum + r.connections, 0));
    },
  });
  new Counter({
    name: 'egress_router_forward_dropped_packets_total',
    help: 'Forwarded packets dropped because they belonged to no redirected connection',
    registers: [registry],
    async collect() {
      this.reset();
      const s = await read();
      if (s) this.inc(s.forwardDropped);
    },
  });

  return {
    registry,
    reloads: new Counter({
      name: 'egress_router_reloads_total',
      help: 'Configuration reloads by result: applied, unchanged, invalid (refused, the running configuration stays) or failed (valid but not applied)',
      labelNames: ['result'],
      registers: [registry],
    }),
    lastGoodReload: new Gauge({
      name: 'egress_router_last_reload_success_timestamp_seconds',
      help: 'When the running configuration was last applied successfully (Unix time)',
      registers: [registry],
    }),
    configInfo,
    ready: new Gauge({ name: 'egress_router_ready', help: '1 when /readyz answers 200', registers: [registry] }),
    syncs: new Counter({
      name: 'egress_router_syncs_total',
      help: 'Reconciliations of the pod with its configuration, by kind (partial, full) and result (ok, failed)',
      labelNames: ['kind', 'result'],
      registers: [registry],
    }),
    syncSeconds: new Histogram({
      name: 'egress_router_sync_duration_seconds',
      help: 'How long a reconciliation took',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    setTrafficSource(source) {
      traffic = source;
    },
    setConfigHash(hash) {
      configInfo.reset();
      configInfo.set({ hash }, 1);
    },
  };
}
