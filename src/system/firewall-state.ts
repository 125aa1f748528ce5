/**
 * Whether the router's firewall is still in the kernel: the periodic full sync's cheap check,
 * so that it replaces the ruleset only when something (an administrator's `nft flush ruleset`,
 * another tool) removed it.
 */
import type { Family } from '../config/address.js';
import { nftListChainsCommand } from '../firewall/cleanup.js';
import { CHAIN_PREFIX } from '../firewall/iptables.js';
import { NFT_TABLE, nftFamily } from '../firewall/nftables.js';
import { runCommand } from './commands.js';

export async function firewallPresent(backend: 'nftables' | 'iptables', family: Family): Promise<boolean> {
  if (backend === 'nftables') {
    // Chains only: any listing of the table itself reads every map element (seconds at 100,000).
    const listed = await runCommand(nftListChainsCommand(family));
    if (!listed.ok) return false;
    const ours = listed.stdout.split(`table ${nftFamily({ family })} ${NFT_TABLE} {`)[1]?.split(/^table /m)[0] ?? '';
    return ['chain prerouting', 'chain postrouting', 'chain forward'].every((chain) => ours.includes(chain));
  }
  // The built-in chains' jumps only: listing the router's own chains would print every rule.
  const command = family === 4 ? 'iptables' : 'ip6tables';
  const [nat, filter] = await Promise.all([runCommand([command, '-t', 'nat', '-S', 'PREROUTING']), runCommand([command, '-t', 'filter', '-S', 'FORWARD'])]);
  return nat.ok && filter.ok && nat.stdout.includes(`-j ${CHAIN_PREFIX}PREROUTING`) && filter.stdout.includes(`-j ${CHAIN_PREFIX}FORWARD`);
}
