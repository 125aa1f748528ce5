/**
 * The address a replica's VRRP advertisements leave from (pure).
 *
 * keepalived refuses to run an IPv4 instance (FAULT, "no IPv4 address for interface") on an
 * interface without an IPv4 address of its own, and a backup has none: the shared source address
 * belongs to the holder alone. Each replica therefore gets an IPv4 link-local address (RFC 3927)
 * derived from its interface's MAC address:
 * - stable for the pod's life, so a restarted container finds and reuses it;
 * - distinct between replicas whose MACs differ in their last 16 bits (always, for sequential MACs;
 *   for random macvlan MACs two replicas collide with a chance of 1 in 65,024). Distinct matters:
 *   VRRP breaks a tie between equal priorities by the advertisement's source address, and two
 *   replicas with the same one both stay holder (keepalived logs "equal priority advert received
 *   from remote host with our IP address");
 * - a /32 of link scope, so it adds no route (a 169.254.0.0/16 route would capture the cloud
 *   metadata address and Calico's 169.254.1.1 gateway) and the kernel never picks it as the source
 *   of routed traffic.
 * It also keeps the interface's routes alive: Linux flushes every IPv4 route through an interface
 * whose last IPv4 address is deleted, so without it a holder turning backup would lose the default
 * route.
 *
 * IPv6 needs none of this: VRRP for IPv6 advertises from the interface's fe80:: address, which the
 * kernel assigns by itself.
 */
import { IPv4 } from 'ip-num';
import type { IpAddress } from '../config/address.js';

/** 169.254.1.0 - 169.254.254.255: RFC 3927 reserves the first and the last 256 addresses. */
const FIRST_USABLE = 0xa9fe0100;
const USABLE_COUNT = 254 * 256;

/** The advertisement source for an interface with this MAC, or undefined for a malformed MAC. */
export function advertSourceFor(mac: string): IpAddress | undefined {
  const bytes = mac.toLowerCase().split(':');
  if (bytes.length !== 6 || !bytes.every((b) => /^[0-9a-f]{2}$/.test(b))) return undefined;
  const low16 = (parseInt(bytes[4]!, 16) << 8) | parseInt(bytes[5]!, 16);
  return { family: 4, text: IPv4.fromNumber(BigInt(FIRST_USABLE + (low16 % USABLE_COUNT))).toString() };
}

/** The address as `ip addr` adds it: a host address of link scope. */
export const advertSourceCidr = (address: IpAddress): string => `${address.text}/32`;

