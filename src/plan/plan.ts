/**
 * The plan: every change the router will make, as data, in order. `--dry-run` prints it, the
 * applier runs it, and tests read it.
 */
import type { IptablesSnapshot } from '../firewall/iptables.js';

export type Step =
  /** Run a command, feeding `input` on stdin. */
  | { kind: 'run'; label: string; argv: string[]; input?: string }
  /** Write a sysctl under /proc/sys. */
  | { kind: 'sysctl'; label: string; key: string; value: string }
  /**
   * Load the firewall ruleset. For iptables, `before` is the snapshot to converge back to if a
   * table fails after another one was committed.
   */
  | { kind: 'firewall'; label: string; backend: 'nftables' | 'iptables'; argv: string[]; input: string; before?: IptablesSnapshot };

export type FirewallStep = Extract<Step, { kind: 'firewall' }>;

export interface Plan {
  steps: Step[];
  /** Gratuitous ARP commands, started without waiting for them to finish. */
  announce: string[][];
}

/** The path of a sysctl key under /proc/sys; as in sysctl(8), a slash in a key is a dot in the path (eth0/100). */
export const sysctlPath = (key: string): string => `/proc/sys/${key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'))}`;
