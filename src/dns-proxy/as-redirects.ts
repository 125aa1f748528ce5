/**
 * The DNS proxy's list as redirect rules: `<port> <address or name> [<remote port>]` is the
 * redirect `<port> tcp <address or name> [<remote port>]`, so the router's one engine (names kept
 * fresh, health checks, the nftables map) serves both, and the kernel forwards the bytes.
 */
import type { Family } from '../config/address.js';
import type { DestinationList } from '../config/destinations.js';
import type { ProxyList } from './destinations.js';

export function proxyListAsRedirects(list: ProxyList): DestinationList {
  return {
    family: list.family,
    redirects: list.rules.map((r) => ({
      line: r.line,
      protocol: 'tcp',
      port: r.port,
      target: r.target.kind === 'name' ? { name: r.target.name } : r.target.address,
      targetPort: r.targetPort,
    })),
  };
}

/** No redirects yet: the table, the forward filter and the reply routing a proxy container fills in. */
export const noRedirects = (family: Family): DestinationList => ({ family, redirects: [] });
