/**
 * This replica's part in the election, as the rest of the router sees it, and what it means for
 * readiness (pure).
 */
import type { KeepalivedState } from './keepalived.js';

/**
 * INIT until keepalived has said anything; then keepalived's own state: MASTER holds the source
 * address, BACKUP stands by, FAULT cannot take part (link down, its advertisement address gone,
 * or keepalived not running), STOP after `stop()`.
 */
export type Role = 'INIT' | KeepalivedState;
export const ROLES: readonly Role[] = ['INIT', 'BACKUP', 'MASTER', 'FAULT', 'STOP'];

export type RoleListener = (role: Role, previous: Role) => void;

/** The current role and who wants to hear about changes; a repeated state is not a change. */
export class RoleTracker {
  private current: Role = 'INIT';
  private readonly listeners = new Set<RoleListener>();

  get role(): Role {
    return this.current;
  }

  /** Registers a listener; the returned function unregisters it. */
  onChange(listener: RoleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Moves to `role`; returns whether that was a change. A listener that throws does not stop the others. */
  set(role: Role): boolean {
    const previous = this.current;
    if (role === previous) return false;
    this.current = role;
    for (const listener of [...this.listeners]) {
      try {
        listener(role, previous);
      } catch {
        // a listener's failure is its own; the role has changed for everyone else
      }
    }
    return true;
  }
}

export type Readiness = { ready: true } | { ready: false; reason: string };

/**
 * With failover on, a replica serves only while it holds the source address, so the Service sends
 * clients to the holder alone. The caller combines this with the rest of its readiness.
 */
export function failoverReadiness(role: Role): Readiness {
  switch (role) {
    case 'MASTER':
      return { ready: true };
    case 'BACKUP':
      return { ready: false, reason: 'VRRP backup: another replica holds EGRESS_SOURCE' };
    case 'INIT':
      return { ready: false, reason: 'VRRP election in progress' };
    case 'FAULT':
      return { ready: false, reason: 'VRRP fault: the egress interface is down, or keepalived is not running' };
    case 'STOP':
      return { ready: false, reason: 'failover stopped' };
  }
}
