/**
 * The relay's metrics, on the registry it is given (the router's shared one, or the proxy
 * container's own). Per pod port, which the list keeps to a handful.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type ConnectionResult = 'relayed' | 'refused_unresolved' | 'upstream_failed';

export interface PortMetrics {
  connection(result: ConnectionResult): void;
  opened(): void;
  closed(toDestination: number, fromDestination: number): void;
}

type DestinationSource = () => { port: number; up: number; down: number }[];

export interface RelayMetrics {
  forPort(port: number): PortMetrics;
  /** Sets the source of the up/down destination counts, read at each scrape. */
  setDestinations(source: DestinationSource): void;
}

/** Per registry, so that a relay started again on the same registry reports its own. */
const destinationSources = new WeakMap<Registry, DestinationSource>();

/** The metric of that name if something registered it already (a relay started again), else a new one. */
function metric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function createRelayMetrics(registry: Registry): RelayMetrics {
  const registers = [registry];
  const connections = metric(registry, 'egress_router_dns_proxy_connections_total', () =>
    new Counter({
      name: 'egress_router_dns_proxy_connections_total',
      help: 'Client connections to the DNS proxy, by pod port and result (relayed, refused_unresolved: the name had no address, upstream_failed: no address accepted)',
      labelNames: ['port', 'result'],
      registers,
    }),
  );
  const active = metric(registry, 'egress_router_dns_proxy_active_connections', () =>
    new Gauge({ name: 'egress_router_dns_proxy_active_connections', help: 'Connections being relayed now, by pod port', labelNames: ['port'], registers }),
  );
  const bytes = metric(registry, 'egress_router_dns_proxy_bytes_total', () =>
    new Counter({
      name: 'egress_router_dns_proxy_bytes_total',
      help: 'Bytes relayed by closed connections, by pod port and direction (to_destination, from_destination)',
      labelNames: ['port', 'direction'],
      registers,
    }),
  );
  metric(registry, 'egress_router_dns_proxy_destinations', () =>
    new Gauge({
      name: 'egress_router_dns_proxy_destinations',
      help: 'Destination addresses of each pod port, by health-check state (up, down)',
      labelNames: ['port', 'state'],
      registers,
      collect() {
        this.reset();
        for (const d of destinationSources.get(registry)?.() ?? []) {
          this.set({ port: String(d.port), state: 'up' }, d.up);
          this.set({ port: String(d.port), state: 'down' }, d.down);
        }
      },
    }),
  );

  return {
    forPort(port) {
      const label = String(port);
      // Children are looked up once per port, not per connection.
      const results = {
        relayed: connections.labels({ port: label, result: 'relayed' }),
        refused_unresolved: connections.labels({ port: label, result: 'refused_unresolved' }),
        upstream_failed: connections.labels({ port: label, result: 'upstream_failed' }),
      };
      const gauge = active.labels({ port: label });
      const out = bytes.labels({ port: label, direction: 'to_destination' });
      const back = bytes.labels({ port: label, direction: 'from_destination' });
      return {
        connection: (result) => results[result].inc(),
        opened: () => gauge.inc(),
        closed: (toDestination, fromDestination) => {
          gauge.dec();
          out.inc(toDestination);
          back.inc(fromDestination);
        },
      };
    },
    setDestinations(source) {
      destinationSources.set(registry, source);
    },
  };
}
