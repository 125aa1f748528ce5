/**
 * Reading the forward filter's drop counter back, for the debug log of a long-running router.
 * The command and the parsing are pure; src/system runs the command.
 */
import type { Family } from '../config/address.js';
import { CHAIN_PREFIX } from './iptables.js';
import { NFT_DROP_COUNTER, NFT_TABLE, nftFamily } from './nftables.js';

export function dropCounterCommand(backend: 'nftables' | 'iptables', family: Family): string[] {
  if (backend === 'nftables') return ['nft', 'list', 'counter', nftFamily({ family }), NFT_TABLE, NFT_DROP_COUNTER];
  return [family === 4 ? 'iptables' : 'ip6tables', '-t', 'filter', '-L', `${CHAIN_PREFIX}FORWARD`, '-v', '-x', '-n'];
}

/** Dropped packets, from `nft list counter` or `iptables -L -v -x` output; undefined if absent. */
export function parseDropCount(backend: 'nftables' | 'iptables', output: string): number | undefined {
  if (backend === 'nftables') {
    const match = /packets (\d+)/.exec(output);
    return match ? Number(match[1]) : undefined;
  }
  const drop = output.split('\n').find((line) => line.trim().split(/\s+/)[2] === 'DROP');
  return drop ? Number(drop.trim().split(/\s+/)[0]) : undefined;
}
