/**
 * Whether the router's firewall is still in the kernel: the periodic full sync's cheap check,
 * so that it replaces the ruleset only when something (an administrator's `nft flush ruleset`,
 * another tool) removed it.
 */
import type { Family } from '../config/address.js';
import { CHAIN_PREFIX, iptablesCommands } from '../firewall/iptables.js';
import { NFT_TABLE, nftFamily } from '../firewall/nftables.js';
import { runCommand } from './commands.js';

export async function firewallPresent(backend: 'nftables' | 'iptables', family: Family): Promise<boolean> {
  if (backend === 'nftables') {
    // Terse: the chains and rules without the map's elements, which may be 100,000.
    const listed = await runCommand(['nft', '-t', 'list', 'table', nftFamily({ family }), NFT_TABLE]);
    return listed.ok && ['chain prerouting', 'chain postrouting', 'chain forward', 'map redirects'].every((part) => listed.stdout.includes(part));
  }
  const { save } = iptablesCommands(family);
  const [nat, filter] = await Promise.all([runCommand([save, '-t', 'nat']), runCommand([save, '-t', 'filter'])]);
  return nat.ok && filter.ok && nat.stdout.includes(`-j ${CHAIN_PREFIX}PREROUTING`) && filter.stdout.includes(`-j ${CHAIN_PREFIX}FORWARD`);
}
