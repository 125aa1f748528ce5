/** Which path the DNS proxy takes, and the reason the log gives. */
import { describe, expect, it } from 'vitest';
import { decidePath } from '../../../src/dns-proxy/path.js';

const everything = { netAdmin: true, forwarding: '1', redirectMap: { ok: true as const } };

describe('DNS proxy path', () => {
  it('takes the kernel path with CAP_NET_ADMIN, forwarding on and the router map', () => {
    expect(decidePath(everything, 4)).toEqual({ kernel: true, reason: 'CAP_NET_ADMIN, net.ipv4.ip_forward=1 and the map ip egress_router redirects are there' });
  });

  it('takes the relay in a container without capabilities', () => {
    expect(decidePath({ ...everything, netAdmin: false }, 4)).toEqual({ kernel: false, reason: 'no CAP_NET_ADMIN (a proxy container without capabilities)' });
  });

  it('takes the relay when forwarding is off or unreadable, naming the sysctl of the family', () => {
    expect(decidePath({ ...everything, forwarding: '0' }, 4).reason).toBe('net.ipv4.ip_forward is 0, not 1');
    expect(decidePath({ ...everything, forwarding: undefined }, 6).reason).toBe('net.ipv6.conf.all.forwarding is unreadable, not 1');
  });

  it('takes the relay when the router has not made its map', () => {
    const decision = decidePath({ ...everything, redirectMap: { ok: false, error: 'No such file or directory' } }, 6);
    expect(decision).toEqual({ kernel: false, reason: 'no nftables map ip6 egress_router redirects (No such file or directory); the router has not set the pod up for it' });
  });
});
