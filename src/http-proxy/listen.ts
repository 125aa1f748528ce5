/**
 * Where the proxy listens: the addresses of the cluster interface (eth0), and nowhere else. Squid
 * listened on every address of the pod, macvlan0's included, so any host on the node's LAN could
 * use the pod as a proxy; here the reserved source address has no listener at all.
 */
import type os from 'node:os';
import { type Problem, type Result, fail, ok, problem } from '../problem.js';

export type Interfaces = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

/**
 * The interface's addresses to listen on: IPv4 and global IPv6. Link-local IPv6 (fe80::/10) is
 * left out: pods reach each other by their pod addresses, and it would need a zone to bind.
 */
export function listenAddresses(name: string, interfaces: Interfaces): Result<string[]> {
  const infos = interfaces[name];
  const why = (message: string): Problem =>
    problem('environment', `interface ${name}`, `${message}; the HTTP proxy listens only on the cluster interface (EGRESS_ROUTER_CLUSTER_INTERFACE)`);
  if (!infos) return fail(why('not found in this network namespace'));
  const addresses = infos.filter((i) => i.family === 'IPv4' || (i.family === 'IPv6' && !/^fe[89ab]/i.test(i.address))).map((i) => i.address);
  if (addresses.length === 0) return fail(why('has no IPv4 or global IPv6 address'));
  return ok(addresses);
}

/** `10.128.0.5:8080`, `[fd00::5]:8080`. */
export const endpointText = (address: string, port: number): string => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);
