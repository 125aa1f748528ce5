/** The replica's role as the router sees it: changes, readiness, metrics, restarts. */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RESTART_BACKOFF, nextAttempt, restartDelayMs } from '../../../src/failover/backoff.js';
import { failoverMetrics } from '../../../src/failover/metrics.js';
import { ROLES, RoleTracker, failoverReadiness } from '../../../src/failover/role.js';

describe('the role', () => {
  it('starts as INIT and tells every listener about each change, once', () => {
    const tracker = new RoleTracker();
    const heard: string[] = [];
    tracker.onChange((role, previous) => heard.push(`a ${previous}->${role}`));
    const off = tracker.onChange((role) => heard.push(`b ${role}`));
    expect(tracker.role).toBe('INIT');
    expect(tracker.set('BACKUP')).toBe(true);
    expect(tracker.set('BACKUP')).toBe(false);
    off();
    tracker.set('MASTER');
    expect(heard).toEqual(['a INIT->BACKUP', 'b BACKUP', 'a BACKUP->MASTER']);
    expect(tracker.role).toBe('MASTER');
  });

  it('still changes, and still reaches the other listeners, when a listener throws', () => {
    const tracker = new RoleTracker();
    const heard: string[] = [];
    tracker.onChange(() => {
      throw new Error('listener bug');
    });
    tracker.onChange((role) => heard.push(role));
    expect(tracker.set('FAULT')).toBe(true);
    expect(heard).toEqual(['FAULT']);
  });
});

describe('readiness with failover on', () => {
  it('is ready only while holding the address (MASTER), with a reason otherwise', () => {
    expect(failoverReadiness('MASTER')).toEqual({ ready: true });
    for (const role of ROLES.filter((r) => r !== 'MASTER')) {
      const readiness = failoverReadiness(role);
      expect(readiness.ready, role).toBe(false);
      expect(readiness.ready === false && readiness.reason.length > 10, role).toBe(true);
    }
    expect(failoverReadiness('BACKUP')).toEqual({ ready: false, reason: 'VRRP backup: another replica holds EGRESS_SOURCE' });
  });
});

describe('failover metrics', () => {
  it('show the current role as the one role gauge at 1, and count transitions and keepalived restarts', async () => {
    const registry = new Registry();
    const metrics = failoverMetrics(registry);
    metrics.setRole('BACKUP');
    metrics.setRole('MASTER');
    metrics.keepalivedRestarted();
    const text = await registry.metrics();
    expect(text).toContain('egress_router_failover_role{role="master"} 1');
    for (const role of ['init', 'backup', 'fault', 'stop']) expect(text).toContain(`egress_router_failover_role{role="${role}"} 0`);
    expect(text).toContain('egress_router_failover_transitions_total{role="backup"} 1');
    expect(text).toContain('egress_router_failover_transitions_total{role="master"} 1');
    expect(text).toContain('egress_router_failover_keepalived_restarts_total 1');
  });

  it('can be registered again on the same registry (failover restarted after a configuration change)', async () => {
    const registry = new Registry();
    failoverMetrics(registry).setRole('MASTER');
    const again = failoverMetrics(registry);
    again.setRole('BACKUP');
    const text = await registry.metrics();
    expect(text).toContain('egress_router_failover_role{role="backup"} 1');
    expect(text).toContain('egress_router_failover_role{role="master"} 0');
  });
});

describe('keepalived restarts', () => {
  it('wait 0.5 s, then twice as long each time, at most 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50].map(restartDelayMs)).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('start the sequence over after a run that lasted a minute', () => {
    expect(nextAttempt(-1, 10)).toBe(0);
    expect(nextAttempt(3, RESTART_BACKOFF.healthyAfterMs - 1)).toBe(4);
    expect(nextAttempt(3, RESTART_BACKOFF.healthyAfterMs)).toBe(0);
  });
});
