/**
 * Reading the ruleset's counters back, for the metrics: per rule the new connections and (with
 * nftables) the packets and bytes each way, the fallback's, and the dropped forwards. The
 * commands and the parsing are pure; src/system (or the caller) runs the commands.
 *
 * Counters restart when their element does: a rule whose addresses change keeps its traffic
 * counters (they belong to its port) but its connection counter restarts when it moves between
 * one address (a `redirects` element, replaced on every change) and several or none (a
 * `verdicts` element, kept while the rule keeps spreading or refusing).
 */
import type { Family } from '../config/address.js';
import { PROTOCOLS, type Protocol } from '../config/destinations.js';
import { CHAIN_PREFIX, iptablesCommands } from './iptables.js';
import { NFT_DROP_COUNTER, NFT_FALLBACK_COUNTERS, NFT_REDIRECTS, NFT_TABLE, NFT_VERDICTS, nftFamily } from './nftables.js';
import { type LocalPort, ruleKey } from './ruleset.js';

export interface Traffic {
  packets: number;
  bytes: number;
}

export interface RuleCounters {
  protocol: Protocol;
  port: number;
  /** New connections translated to the rule's destination. */
  connections: number;
  /** New connections refused because the rule had no address (its name was not resolved). */
  refused: number;
  /** Forwarded towards the destination (out) and back (in); nftables with per-rule counters only. */
  out?: Traffic;
  in?: Traffic;
}

export interface FirewallCounters {
  rules: RuleCounters[];
  fallback: { connections: number; out?: Traffic; in?: Traffic };
  /** Forwarded packets dropped because they were not redirected. */
  forwardDropped: number;
}

/** The commands whose outputs `parseCounters` reads, in order. */
export function countersCommands(backend: 'nftables' | 'iptables', family: Family): string[][] {
  if (backend === 'nftables') return [['nft', '-j', 'list', 'table', nftFamily({ family }), NFT_TABLE]];
  const { save } = iptablesCommands(family);
  return [
    [save, '-c', '-t', 'nat'],
    [save, '-c', '-t', 'filter'],
  ];
}

/**
 * The counters, from the outputs of `countersCommands`; undefined when the output is not what
 * the router's ruleset prints (no table, a foreign format). Local ports are left out: their
 * connections are the pod's own, not a rule's.
 */
export function parseCounters(backend: 'nftables' | 'iptables', outputs: readonly string[], localPorts: readonly LocalPort[] = []): FirewallCounters | undefined {
  return backend === 'nftables' ? parseNftCounters(outputs[0] ?? '', localPorts) : parseIptablesCounters(outputs[0] ?? '', outputs[1] ?? '', localPorts);
}

/** Collects rules by (protocol, port); lists them by port, then protocol (nft lists in hash order). */
class RuleTable {
  private readonly rules = new Map<number, RuleCounters>();
  constructor(private readonly local: ReadonlySet<number>) {}
  get(protocol: Protocol, port: number): RuleCounters | undefined {
    const key = ruleKey(protocol, port);
    if (this.local.has(key)) return undefined;
    let rule = this.rules.get(key);
    if (!rule) {
      rule = { protocol, port, connections: 0, refused: 0 };
      this.rules.set(key, rule);
    }
    return rule;
  }
  /** Only rules that exist: traffic of a port no rule has any more is not a rule's. */
  existing(protocol: Protocol, port: number): RuleCounters | undefined {
    return this.rules.get(ruleKey(protocol, port));
  }
  list(): RuleCounters[] {
    return [...this.rules].sort(([a], [b]) => a - b).map(([, rule]) => rule);
  }
}

const localKeys = (localPorts: readonly LocalPort[]): Set<number> => new Set(localPorts.map((p) => ruleKey(p.protocol, p.port)));

// ---- nftables: `nft -j list table` ----

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const IP_PROTOCOLS: Record<number, Protocol> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

function protocolOf(value: unknown): Protocol | undefined {
  if (typeof value === 'number') return IP_PROTOCOLS[value];
  return (PROTOCOLS as readonly unknown[]).includes(value) ? (value as Protocol) : undefined;
}

function trafficOf(value: unknown): Traffic | undefined {
  if (!isObject(value) || typeof value.packets !== 'number' || typeof value.bytes !== 'number') return undefined;
  return { packets: value.packets, bytes: value.bytes };
}

/** An element of a map or set: `{elem: {val, counter}}`, or a bare value without counters. */
function elementOf(item: unknown): { value: unknown; counter: Traffic | undefined } {
  if (isObject(item) && isObject(item.elem)) return { value: item.elem.val, counter: trafficOf(item.elem.counter) };
  return { value: item, counter: undefined };
}

/** The (protocol, port) key of a map element: `{concat: ["tcp", 80]}`. */
function keyOf(value: unknown): { protocol: Protocol; port: number } | undefined {
  if (!isObject(value) || !Array.isArray(value.concat) || value.concat.length !== 2) return undefined;
  const [protocolValue, port] = value.concat as unknown[];
  const protocol = protocolOf(protocolValue);
  return protocol && typeof port === 'number' ? { protocol, port } : undefined;
}

export function parseNftCounters(json: string, localPorts: readonly LocalPort[] = []): FirewallCounters | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || !Array.isArray(parsed.nftables)) return undefined;
  const rules = new RuleTable(localKeys(localPorts));
  const named = new Map<string, Traffic>();
  const traffic: { direction: 'out' | 'in'; protocol: Protocol; elements: unknown[] }[] = [];
  let table = false;
  for (const object of parsed.nftables as unknown[]) {
    if (!isObject(object)) continue;
    if (isObject(object.table) && object.table.name === NFT_TABLE) table = true;
    if (isObject(object.counter) && typeof object.counter.name === 'string') {
      const counter = trafficOf(object.counter);
      if (counter) named.set(object.counter.name, counter);
    }
    if (isObject(object.map) && (object.map.name === NFT_REDIRECTS || object.map.name === NFT_VERDICTS)) {
      for (const pair of Array.isArray(object.map.elem) ? (object.map.elem as unknown[]) : []) {
        if (!Array.isArray(pair)) continue;
        const { value, counter } = elementOf(pair[0]);
        const key = keyOf(value);
        const rule = key && rules.get(key.protocol, key.port);
        if (!rule) continue;
        const refuses = object.map.name === NFT_VERDICTS && isObject(pair[1]) && 'accept' in pair[1];
        if (refuses) rule.refused += counter?.packets ?? 0;
        else rule.connections += counter?.packets ?? 0;
      }
    }
    const set = isObject(object.set) && typeof object.set.name === 'string' ? /^(out|in)_(tcp|udp|sctp)$/.exec(object.set.name) : null;
    if (set && isObject(object.set)) {
      const elements = Array.isArray(object.set.elem) ? (object.set.elem as unknown[]) : [];
      traffic.push({ direction: set[1] as 'out' | 'in', protocol: set[2] as Protocol, elements });
    }
  }
  if (!table) return undefined;
  // The sets come after the maps in nft's listing, but read them last whatever the order.
  for (const { direction, protocol, elements } of traffic) {
    for (const item of elements) {
      const { value, counter } = elementOf(item);
      const rule = typeof value === 'number' ? rules.existing(protocol, value) : undefined;
      if (rule && counter) rule[direction] = counter;
    }
  }
  const fallbackOut = named.get(NFT_FALLBACK_COUNTERS.out);
  const fallbackIn = named.get(NFT_FALLBACK_COUNTERS.in);
  return {
    rules: rules.list(),
    fallback: {
      connections: named.get(NFT_FALLBACK_COUNTERS.connections)?.packets ?? 0,
      ...(fallbackOut ? { out: fallbackOut } : {}),
      ...(fallbackIn ? { in: fallbackIn } : {}),
    },
    forwardDropped: named.get(NFT_DROP_COUNTER)?.packets ?? 0,
  };
}

// ---- iptables: `iptables-save -c` ----

/** `[packets:bytes] -A CHAIN spec` lines of one owned chain. */
function chainLines(save: string, chain: string): { packets: number; spec: string }[] {
  const lines: { packets: number; spec: string }[] = [];
  const prefix = ` -A ${chain} `;
  for (const line of save.split('\n')) {
    const match = /^\[(\d+):(\d+)\]/.exec(line);
    if (!match || !line.startsWith(prefix, match[0].length)) continue;
    lines.push({ packets: Number(match[1]), spec: line.slice(match[0].length + prefix.length) });
  }
  return lines;
}

export function parseIptablesCounters(natSave: string, filterSave: string, localPorts: readonly LocalPort[] = []): FirewallCounters | undefined {
  const nat = chainLines(natSave, `${CHAIN_PREFIX}PREROUTING`);
  const filter = chainLines(filterSave, `${CHAIN_PREFIX}FORWARD`);
  if (nat.length === 0 || filter.length === 0) return undefined;
  const rules = new RuleTable(localKeys(localPorts));
  let fallback = 0;
  for (const { packets, spec } of nat) {
    const match = /^-p (\S+) -m \S+ --dport (\d+) /.exec(spec);
    const protocol = match ? protocolOf(match[1]) : undefined;
    if (match && protocol) {
      const rule = rules.get(protocol, Number(match[2]));
      if (rule && spec.endsWith(' -j RETURN')) rule.refused += packets;
      else if (rule) rule.connections += packets;
    } else if (spec.includes('-j DNAT ')) fallback += packets;
  }
  const drop = filter.find((line) => line.spec === '-j DROP');
  return { rules: rules.list(), fallback: { connections: fallback }, forwardDropped: drop?.packets ?? 0 };
}
