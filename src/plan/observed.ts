/**
 * What the router found in the pod's network namespace before changing anything. The probe
 * (src/system/probe.ts) fills it in with read-only commands; the planner only reads it.
 */
import type { Family, IpAddress } from '../config/address.js';
import type { FirewallLeftovers } from '../firewall/cleanup.js';
import type { IptablesSnapshot } from '../firewall/iptables.js';

export interface LinkAddress {
  family: Family;
  text: string;
  prefix: number;
  scope: string;
}

export interface LinkState {
  name: string;
  /** `macvlan`, `veth`, ...; undefined for a plain device. */
  kind: string | undefined;
  up: boolean;
  addresses: LinkAddress[];
  /** The kernel's interface index, for sockets that must send on this link. */
  index?: number;
  /** The link-layer (MAC) address, as `ip` prints it. */
  mac?: string;
}

export interface RouteEntry {
  /** `default`, an address, or a prefix, as `ip -j route` prints it. */
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  scope?: string;
  prefsrc?: string;
  onlink: boolean;
}

export interface RuleEntry {
  priority: number;
  /** `all` or an address. */
  src: string;
  srclen?: number;
  /** A destination selector (`to`), absent for `all`. */
  dst?: string;
  dstlen?: number;
  iif?: string;
  table: string;
}

export interface Capabilities {
  netAdmin: boolean;
  netRaw: boolean;
}

export interface Observed {
  egress: LinkState | undefined;
  cluster: LinkState | undefined;
  /** Routes of the configured family in the main table. */
  mainRoutes: RouteEntry[];
  /** Routes in the router's reply table. */
  replyRoutes: RouteEntry[];
  /** Policy rules of the configured family. */
  rules: RuleEntry[];
  forwarding: { value: string; writable: boolean };
  /** The nameservers of the pod's resolver configuration, of every family. */
  nameservers: IpAddress[];
  capabilities: Capabilities;
  /** Command name -> whether it was found on PATH. */
  tools: Record<string, boolean>;
  /** The backend in use once `auto` is resolved. */
  firewallBackend: 'nftables' | 'iptables';
  /** The router's iptables chains before the run; iptables backend only. */
  iptables?: IptablesSnapshot;
  /**
   * What the other firewall backend left of this router (EGRESS_ROUTER_FIREWALL changed between
   * runs); undefined when there is none, or where the router installs no firewall.
   */
  leftovers?: FirewallLeftovers;
  /**
   * Reverse-path filtering (`rp_filter`, IPv4 only) of conf.all and the two interfaces, as read,
   * and whether the router may change the interfaces' values.
   */
  reversePathFilter?: { all: string; cluster: string; egress: string; writable: boolean };
}
