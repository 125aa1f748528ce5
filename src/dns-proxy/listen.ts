/** Listening for the relay: on which addresses, and one listener per address and port. */
import net from 'node:net';
import type os from 'node:os';
import type { Logger } from 'pino';
import { type IpAddress, parseUnicastAddress } from '../config/address.js';
import { type Result, fail, ok, problem } from '../problem.js';

/** The cluster interface's addresses a client may connect to (link-local ones are not). */
export function listenAddresses(name: string, interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]>): Result<IpAddress[]> {
  const infos = interfaces[name];
  const where = `interface ${name} (EGRESS_ROUTER_CLUSTER_INTERFACE)`;
  if (!infos) return fail(problem('environment', where, 'not found in this network namespace; the relay listens only there'));
  const addresses = infos.flatMap((info) => {
    const parsed = parseUnicastAddress(info.address);
    return parsed.ok ? [parsed.address] : [];
  });
  if (addresses.length === 0) return fail(problem('environment', where, 'has no address to listen on'));
  return ok(addresses);
}

export function listen(address: IpAddress, port: number, onConnection: (socket: net.Socket) => void, log: Logger): Promise<Result<net.Server>> {
  return new Promise((resolve) => {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, onConnection);
    server.once('error', (error: NodeJS.ErrnoException) => {
      resolve(fail(problem('environment', `port ${port} on ${address.text}`, `cannot listen: ${error.code ?? error.message}`)));
    });
    server.listen({ host: address.text, port, backlog: 4096 }, () => {
      server.removeAllListeners('error');
      // Accepting can fail later (EMFILE when out of file descriptors): say so, keep listening.
      server.on('error', (error: NodeJS.ErrnoException) => log.warn({ port, address: address.text, error: error.code ?? error.message }, `port ${port} on ${address.text}: ${error.message}`));
      resolve(ok(server));
    });
  });
}

export const closeServer = (server: net.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));
