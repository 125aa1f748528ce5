/**
 * Removing what the other firewall backend left of this router, when EGRESS_ROUTER_FIREWALL
 * changed between runs (or `auto` resolved differently). Pure: the probe reads, this decides
 * what is there and renders its removal.
 *
 * Each removal touches only the router's own objects, found by name:
 * - nftables: the table `egress_router` of the configured family, nothing else. iptables-nft
 *   keeps its chains in nftables tables too (`ip nat`, `ip filter`), and those are never deleted.
 * - iptables: the `EGRESS-ROUTER-*` chains and the jumps to them, converged away through the
 *   iptables backend's own `iptables-restore --noflush` machinery, so foreign chains and rules
 *   stay, whether the chains live in iptables-legacy or in iptables-nft's tables. The built-in
 *   chains iptables created stay too: they hold no rule of ours, and other users may rely on them.
 */
import type { Family } from '../config/address.js';
import { CHAIN_PREFIX, IPTABLES_TABLES, type IptablesSnapshot, emptySnapshot, renderIptablesConverge } from './iptables.js';
import { NFT_TABLE, nftFamily } from './nftables.js';

export interface FirewallLeftovers {
  /** With nftables chosen: the router's iptables chains and jumps, as iptables-save showed them. */
  iptables?: IptablesSnapshot;
  /** With iptables chosen: the router's nftables table of the family exists. */
  nftablesTable?: boolean;
}

/** Lists every chain (not the rules) of the family's nftables tables: cheap, even beside a big map. */
export const nftListChainsCommand = (family: Family): string[] => ['nft', 'list', 'chains', nftFamily({ family })];

/** Where iptables-legacy lists the tables it holds in this network namespace (a file, no command). */
export const legacyTableNamesPath = (family: Family): string => (family === 4 ? '/proc/net/ip_tables_names' : '/proc/net/ip6_tables_names');

export interface NftChainListing {
  tables: string[];
  /** `<table>/<chain>` for every chain. */
  chains: string[];
}

/** Reads `nft list chains <family>` output. */
export function parseNftChains(text: string): NftChainListing {
  const listing: NftChainListing = { tables: [], chains: [] };
  let table: string | undefined;
  for (const line of text.split('\n')) {
    const tableMatch = /^table \S+ (\S+) \{$/.exec(line);
    if (tableMatch) {
      table = tableMatch[1]!;
      listing.tables.push(table);
      continue;
    }
    const chainMatch = /^\s+chain (\S+) \{$/.exec(line);
    if (chainMatch && table !== undefined) listing.chains.push(`${table}/${chainMatch[1]}`);
  }
  return listing;
}

/** The router's own nftables table is there (the listing is of the configured family). */
export const hasRouterTable = (listing: NftChainListing): boolean => listing.tables.includes(NFT_TABLE);

/**
 * iptables-nft holds chains of the router: chains named like the iptables backend's, in any table
 * of the family. A jump needs its target chain, so no chain means nothing to remove.
 */
export const hasIptablesNftChains = (listing: NftChainListing): boolean =>
  listing.chains.some((c) => c.split('/')[1]!.startsWith(CHAIN_PREFIX));

/** iptables-legacy holds a table the router's chains could live in (from legacyTableNamesPath). */
export const hasLegacyTables = (names: string): boolean =>
  names.split('\n').some((name) => (IPTABLES_TABLES as readonly string[]).includes(name.trim()));

/** The snapshot holds at least one chain or jump of the router. */
export const hasIptablesRules = (snapshot: IptablesSnapshot): boolean =>
  IPTABLES_TABLES.some((table) => snapshot[table].chains.size > 0 || snapshot[table].jumps.length > 0);

/**
 * `nft -f` input that deletes the router's table of the family. Declaring it first makes the
 * transaction succeed whether or not it is still there when the command runs.
 */
export function renderNftablesRemoval(family: Family): string {
  const table = `${nftFamily({ family })} ${NFT_TABLE}`;
  return `table ${table}\ndelete table ${table}\n`;
}

/**
 * `iptables-restore --noflush` input that converges the router's chains and jumps to none.
 * Tables without any of them are left out, so the load creates no table that was not there.
 */
export function renderIptablesRemoval(current: IptablesSnapshot): string {
  const sections = renderIptablesConverge(current, emptySnapshot()).split(/(?<=^COMMIT\n)/m);
  const kept = sections.filter((section) => section.trim().split('\n').length > 2);
  return kept.join('');
}
