/**
 * The iptables backend: chains the router owns in the nat and filter tables, reached by one jump
 * from each built-in chain, loaded with `iptables-restore --noflush` so nothing else is touched.
 *
 * iptables-restore commits table by table, so one load is not atomic across tables. The backend
 * therefore thinks in snapshots: the chains it owns and the jumps to them, per table. A load
 * converges the kernel from the observed snapshot to the wanted one, and a failed load is rolled
 * back by converging from what is there afterwards to the snapshot taken before.
 *
 * Redirects are one rule each (one per address for a rule that spreads): a new connection walks
 * the list, unlike the nftables map. Per-rule new connections are the DNAT rules' own counters
 * (`iptables-save -c`); per-rule packets and bytes exist only with nftables.
 */
import { type LocalPort, type RedirectEntry, type Ruleset, DROP_LOG_PREFIX } from './ruleset.js';
import { type IpAddress, withPort } from '../config/address.js';

export const CHAIN_PREFIX = 'EGRESS-ROUTER-';
const TABLES = ['filter', 'nat'] as const;
export type IptablesTable = (typeof TABLES)[number];

export interface Jump {
  /** The built-in chain the jump sits in. */
  from: string;
  /** The rule as iptables-save prints it after `-A <from> `. */
  spec: string;
}

export interface TableSnapshot {
  /** Owned chain name -> its rules, as iptables-save prints them after `-A <chain> `. */
  chains: Map<string, string[]>;
  jumps: Jump[];
}

export type IptablesSnapshot = Record<IptablesTable, TableSnapshot>;

export const emptySnapshot = (): IptablesSnapshot => ({
  filter: { chains: new Map(), jumps: [] },
  nat: { chains: new Map(), jumps: [] },
});

const owned = (chain: string): boolean => chain.startsWith(CHAIN_PREFIX);

/** Reads the router's chains and the jumps to them out of `iptables-save -t <table>` output. */
export function parseSaveOutput(table: IptablesTable, text: string, into: IptablesSnapshot = emptySnapshot()): IptablesSnapshot {
  const snapshot = into[table];
  let current: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) current = line.slice(1).trim();
    if (current !== table) continue;
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0]!;
      if (owned(name) && !snapshot.chains.has(name)) snapshot.chains.set(name, []);
    } else if (line.startsWith('-A ')) {
      const space = line.indexOf(' ', 3);
      const chain = line.slice(3, space === -1 ? undefined : space);
      const spec = space === -1 ? '' : line.slice(space + 1);
      if (owned(chain)) {
        const rules = snapshot.chains.get(chain) ?? [];
        rules.push(spec);
        snapshot.chains.set(chain, rules);
      } else if (/(^| )-j EGRESS-ROUTER-[A-Z-]+$/.test(spec)) {
        snapshot.jumps.push({ from: chain, spec });
      }
    }
  }
  return into;
}

/** The `--probability` of the i-th of n rules that spread evenly, as kube-proxy writes it. */
export const probability = (i: number, n: number): string => (1 / (n - i)).toFixed(10);

/**
 * The nat rules of one redirect, in order: one DNAT for one address; for n addresses, n - 1
 * DNATs that each take their share of what the ones before left (1/n, 1/(n-1), ...) and a last
 * one that takes the rest, as kube-proxy spreads a Service; a RETURN for a rule with no address,
 * so that the connection reaches the pod (and is refused) instead of the fallback.
 */
export function redirectRules(r: RedirectEntry): string[] {
  const match = `-p ${r.protocol} -m ${r.protocol} --dport ${r.port}`;
  if (r.targets.length === 0) return [`${match} -j RETURN`];
  const n = r.targets.length;
  return r.targets.map((target, i) => {
    const share = i < n - 1 ? ` -m statistic --mode random --probability ${probability(i, n)}` : '';
    return `${match}${share} -j DNAT --to-destination ${withPort(target, r.targetPort)}`;
  });
}

/** The fallback's rules: everything that is left, spread across its addresses. */
export function fallbackRules(targets: readonly IpAddress[]): string[] {
  const n = targets.length;
  return targets.map((target, i) => {
    const share = i < n - 1 ? `-m statistic --mode random --probability ${probability(i, n)} ` : '';
    return `${share}-j DNAT --to-destination ${target.text}`;
  });
}

export const localPortRule = (p: LocalPort): string => `-p ${p.protocol} -m ${p.protocol} --dport ${p.port} -j RETURN`;

/** The rules before the redirects in the nat chain: where new redirects are inserted. */
export const natHeader = (ruleset: Pick<Ruleset, 'clusterInterface' | 'localPorts'>): string[] => [
  `! -i ${ruleset.clusterInterface} -j RETURN`,
  '-m addrtype ! --dst-type LOCAL -j RETURN',
  ...ruleset.localPorts.map(localPortRule),
];

/** The snapshot the ruleset asks for. */
export function wantedSnapshot(ruleset: Ruleset): IptablesSnapshot {
  const { clusterInterface: cluster, egressInterface: egress } = ruleset;
  const prerouting = `${CHAIN_PREFIX}PREROUTING`;
  const postrouting = `${CHAIN_PREFIX}POSTROUTING`;
  const forward = `${CHAIN_PREFIX}FORWARD`;
  const input = `${CHAIN_PREFIX}INPUT`;
  const dnat = natHeader(ruleset);
  for (const r of ruleset.redirects) dnat.push(...redirectRules(r));
  dnat.push(...fallbackRules(ruleset.fallback?.targets ?? []));
  const filter = [
    `-i ${cluster} -o ${egress} -m conntrack --ctstate DNAT -j ACCEPT`,
    `-i ${egress} -o ${cluster} -m conntrack --ctstate DNAT -j ACCEPT`,
  ];
  if (ruleset.logDrops) filter.push(`-j LOG --log-prefix "${DROP_LOG_PREFIX}" --log-level 7`);
  filter.push('-j DROP');
  const unreachable = ruleset.family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
  // No server of the pod answers the LAN; replies, ICMP (neighbour discovery) and VRRP pass.
  const inputRules = [
    `! -i ${egress} -j RETURN`,
    '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
    '-p tcp -j REJECT --reject-with tcp-reset',
    `-p udp -j REJECT --reject-with ${unreachable}`,
    `-p sctp -j REJECT --reject-with ${unreachable}`,
  ];
  return {
    nat: {
      chains: new Map([
        [prerouting, dnat],
        // VRRP adverts keep their own source, so that keepalived's peers tell the routers apart.
        [postrouting, [`-o ${egress} -p 112 -j RETURN`, `-o ${egress} -j SNAT --to-source ${ruleset.source.text}`]],
      ]),
      jumps: [
        { from: 'PREROUTING', spec: `-j ${prerouting}` },
        { from: 'POSTROUTING', spec: `-j ${postrouting}` },
      ],
    },
    filter: {
      chains: new Map([
        [forward, filter],
        [input, inputRules],
      ]),
      jumps: [
        { from: 'FORWARD', spec: `-j ${forward}` },
        { from: 'INPUT', spec: `-j ${input}` },
      ],
    },
  };
}

const sameJump = (a: Jump, b: Jump): boolean => a.from === b.from && a.spec === b.spec;

/**
 * `iptables-restore --noflush` input that turns `current` into `wanted`. Declaring an owned
 * chain flushes it; jumps are added or deleted only where they differ, so foreign rules stay.
 * The filter table goes first: if the nat table then fails, the forward filter is already tight.
 */
export function renderIptablesConverge(current: IptablesSnapshot, wanted: IptablesSnapshot): string {
  const out: string[] = [];
  for (const table of TABLES) {
    const now = current[table];
    const next = wanted[table];
    const obsolete = [...now.chains.keys()].filter((name) => !next.chains.has(name));
    const staleJumps = now.jumps.filter((j) => !next.jumps.some((w) => sameJump(j, w)));
    const newJumps = next.jumps.filter((w) => !now.jumps.some((j) => sameJump(j, w)));
    out.push(`*${table}`);
    for (const name of [...next.chains.keys(), ...obsolete]) out.push(`:${name} - [0:0]`);
    for (const jump of staleJumps) out.push(`-D ${jump.from} ${jump.spec}`);
    for (const [name, rules] of next.chains) for (const rule of rules) out.push(`-A ${name} ${rule}`);
    // Jumps go first in their built-in chain, ahead of whatever the platform put there.
    for (const jump of newJumps) out.push(`-I ${jump.from} 1 ${jump.spec}`);
    for (const name of obsolete) out.push(`-X ${name}`);
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}

export const iptablesCommands = (family: 4 | 6) =>
  family === 4
    ? { restore: 'iptables-restore', save: 'iptables-save' }
    : { restore: 'ip6tables-restore', save: 'ip6tables-save' };

export const IPTABLES_TABLES = TABLES;
