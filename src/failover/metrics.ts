/** The failover metrics, registered on the router's shared prom-client registry. */
import { Counter, Gauge, type Registry } from 'prom-client';
import { ROLES, type Role } from './role.js';

export interface FailoverMetrics {
  setRole(role: Role): void;
  keepalivedRestarted(): void;
}

/** A metric of this name already in the registry (failover restarted), or a new one. */
function reuse<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function failoverMetrics(registry: Registry): FailoverMetrics {
  const role = reuse(registry, 'egress_router_failover_role', () => new Gauge({
    name: 'egress_router_failover_role',
    help: 'This replica\'s VRRP role: 1 for the current one (master holds EGRESS_SOURCE and serves), 0 for the others',
    labelNames: ['role'] as const,
    registers: [registry],
  }));
  const transitions = reuse(registry, 'egress_router_failover_transitions_total', () => new Counter({
    name: 'egress_router_failover_transitions_total',
    help: 'VRRP role changes of this replica, by the role entered',
    labelNames: ['role'] as const,
    registers: [registry],
  }));
  const restarts = reuse(registry, 'egress_router_failover_keepalived_restarts_total', () => new Counter({
    name: 'egress_router_failover_keepalived_restarts_total',
    help: 'Times keepalived ended unexpectedly and was started again',
    registers: [registry],
  }));
  const label = (r: Role) => r.toLowerCase();
  const show = (current: Role) => {
    for (const r of ROLES) role.set({ role: label(r) }, r === current ? 1 : 0);
  };
  show('INIT');
  return {
    setRole(current) {
      show(current);
      transitions.inc({ role: label(current) });
    },
    keepalivedRestarted: () => restarts.inc(),
  };
}
