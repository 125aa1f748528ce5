/**
 * The iptables backend: chains the router owns in the nat and filter tables, reached by one jump
 * from each built-in chain, loaded with `iptables-restore --noflush` so nothing else is touched.
 *
 * iptables-restore commits table by table, so one load is not atomic across tables. The backend
 * therefore thinks in snapshots: the chains it owns and the jumps to them, per table. A load
 * converges the kernel from the observed snapshot to the wanted one, and a failed load is rolled
 * back by converging from what is there afterwards to the snapshot taken before.
 *
 * Redirects are one rule each: a new connection walks the list, unlike the nftables map.
 */
import { type Ruleset, DROP_LOG_PREFIX } from './ruleset.js';
import { withPort } from '../config/address.js';

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

/** The snapshot the ruleset asks for. */
export function wantedSnapshot(ruleset: Ruleset): IptablesSnapshot {
  const { clusterInterface: cluster, egressInterface: egress } = ruleset;
  const prerouting = `${CHAIN_PREFIX}PREROUTING`;
  const postrouting = `${CHAIN_PREFIX}POSTROUTING`;
  const forward = `${CHAIN_PREFIX}FORWARD`;
  const dnat = [
    `! -i ${cluster} -j RETURN`,
    '-m addrtype ! --dst-type LOCAL -j RETURN',
    ...ruleset.redirects.map(
      (r) => `-p ${r.protocol} -m ${r.protocol} --dport ${r.port} -j DNAT --to-destination ${withPort(r.target, r.targetPort)}`,
    ),
  ];
  if (ruleset.fallback) dnat.push(`-j DNAT --to-destination ${ruleset.fallback.text}`);
  const filter = [
    `-i ${cluster} -o ${egress} -m conntrack --ctstate DNAT -j ACCEPT`,
    `-i ${egress} -o ${cluster} -m conntrack --ctstate DNAT -j ACCEPT`,
  ];
  if (ruleset.logDrops) filter.push(`-j LOG --log-prefix "${DROP_LOG_PREFIX}" --log-level 7`);
  filter.push('-j DROP');
  return {
    nat: {
      chains: new Map([
        [prerouting, dnat],
        [postrouting, [`-o ${egress} -j SNAT --to-source ${ruleset.source.text}`]],
      ]),
      jumps: [
        { from: 'PREROUTING', spec: `-j ${prerouting}` },
        { from: 'POSTROUTING', spec: `-j ${postrouting}` },
      ],
    },
    filter: { chains: new Map([[forward, filter]]), jumps: [{ from: 'FORWARD', spec: `-j ${forward}` }] },
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
