/**
 * Addresses, prefixes and families. Every decision about an address goes through ip-num; the
 * rest of the program carries the family in the types instead of guessing from the text.
 */
import { IPv4, IPv4CidrRange, IPv4Prefix, IPv6, IPv6CidrRange, IPv6Prefix, collapseIPv6Number } from 'ip-num';

export type Family = 4 | 6;

export interface IpAddress {
  family: Family;
  /** Canonical text: dotted decimal for IPv4, the compressed lower-case form for IPv6. */
  text: string;
}

export interface InterfaceAddress extends IpAddress {
  prefix: number;
}

export const familyName = (family: Family): string => (family === 4 ? 'IPv4' : 'IPv6');
export const hostPrefix = (family: Family): number => (family === 4 ? 32 : 128);

/** Why an address was refused, or the address. */
export type AddressResult = { ok: true; address: IpAddress } | { ok: false; reason: string };

const IPV4_SPECIAL: ReadonlyArray<[string, string]> = [
  ['0.0.0.0/8', 'is in 0.0.0.0/8 ("this network")'],
  ['127.0.0.0/8', 'is a loopback address'],
  ['224.0.0.0/4', 'is a multicast address'],
  ['255.255.255.255/32', 'is the broadcast address'],
  ['240.0.0.0/4', 'is in the reserved range 240.0.0.0/4'],
];
const IPV6_SPECIAL: ReadonlyArray<[string, string]> = [
  ['::/128', 'is the unspecified address'],
  ['::1/128', 'is the loopback address'],
  ['::/96', 'is an IPv4-compatible IPv6 address, deprecated and ambiguous; write the IPv4 address itself'],
  ['ff00::/8', 'is a multicast address'],
  ['fe80::/10', 'is a link-local address'],
];
/**
 * A range as its first and last address values, computed once by ip-num. Comparing an address's
 * value against them is what `range.contains(address/32)` decides, without the per-call mask and
 * range objects that made it cost ~150 µs (100,000 rules took 16 s).
 */
interface Bounds {
  first: bigint;
  last: bigint;
}
const bounds = (range: IPv4CidrRange | IPv6CidrRange): Bounds => ({ first: range.getFirst().getValue(), last: range.getLast().getValue() });
const within = (value: bigint, range: Bounds): boolean => value >= range.first && value <= range.last;
const ipv4Special = IPV4_SPECIAL.map(([cidr, why]) => [bounds(IPv4CidrRange.fromCidr(cidr)), why] as const);
const ipv6Special = IPV6_SPECIAL.map(([cidr, why]) => [bounds(IPv6CidrRange.fromCidr(cidr)), why] as const);
const ipv4Mapped = bounds(IPv6CidrRange.fromCidr('::ffff:0:0/96'));

function parseIPv4(text: string): IPv4 | undefined {
  try {
    const parsed = IPv4.fromString(text);
    // ip-num already refuses leading zeros; the round trip makes "canonical" the rule, not a detail.
    return parsed.toString() === text ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function parseIPv6(text: string): IPv6 | undefined {
  if (text.includes('%')) return undefined; // zone indexes name a link, not a destination
  try {
    return IPv6.fromString(text);
  } catch {
    return undefined;
  }
}

/** The reason a leading-zero IPv4 text is refused: 010 means 8 to some tools and 10 to others. */
function leadingZeroOctet(text: string): boolean {
  return text.split('.').some((octet) => octet.length > 1 && octet.startsWith('0'));
}

/**
 * Parses one unicast address as a destination, gateway or source may be: canonical, valid, and
 * neither loopback, multicast, broadcast nor unspecified. IPv4-mapped IPv6 is refused as
 * ambiguous: it names an IPv4 host in IPv6 clothes.
 */
export function parseUnicastAddress(text: string): AddressResult {
  const v4 = parseIPv4(text);
  if (v4) {
    const value = v4.getValue();
    const special = ipv4Special.find(([range]) => within(value, range));
    if (special) return { ok: false, reason: `${text} ${special[1]}` };
    return { ok: true, address: { family: 4, text } };
  }
  const v6 = parseIPv6(text);
  if (v6) {
    const value = v6.getValue();
    if (within(value, ipv4Mapped)) {
      return { ok: false, reason: `${text} is an IPv4-mapped IPv6 address; write the IPv4 address itself` };
    }
    const special = ipv6Special.find(([range]) => within(value, range));
    if (special) return { ok: false, reason: `${text} ${special[1]}` };
    return { ok: true, address: { family: 6, text: collapseIPv6Number(v6.toString()) } };
  }
  if (text.includes('.') && leadingZeroOctet(text) && !text.includes(':')) {
    return { ok: false, reason: 'leading zeros are ambiguous (octal or decimal?); write the address without them' };
  }
  return { ok: false, reason: 'not a valid IPv4 or IPv6 address' };
}

/** A prefix length: plain decimal digits, no sign and no leading zero. */
function parsePrefixLength(text: string, family: Family): number | undefined {
  if (!/^(0|[1-9][0-9]{0,2})$/.test(text)) return undefined;
  const length = Number(text);
  try {
    if (family === 4) IPv4Prefix.fromNumber(BigInt(length));
    else IPv6Prefix.fromNumber(BigInt(length));
  } catch {
    return undefined;
  }
  return length;
}

export type InterfaceAddressResult = { ok: true; address: InterfaceAddress } | { ok: false; reason: string };

/** `ADDRESS` or `ADDRESS/PREFIX`; without a prefix the address is a host route of its own (/32, /128). */
export function parseInterfaceAddress(text: string): InterfaceAddressResult {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const parsed = parseUnicastAddress(addressText);
  if (!parsed.ok) return parsed;
  const { family } = parsed.address;
  if (slash === -1) return { ok: true, address: { ...parsed.address, prefix: hostPrefix(family) } };
  const prefix = parsePrefixLength(text.slice(slash + 1), family);
  if (prefix === undefined || prefix === 0) {
    return { ok: false, reason: `prefix length must be a number from 1 to ${hostPrefix(family)}` };
  }
  return { ok: true, address: { ...parsed.address, prefix } };
}

/** Whether `address` lies inside the subnet of `network` (same family assumed by the caller). */
export function inSubnet(network: InterfaceAddress, address: IpAddress): boolean {
  if (network.family !== address.family) return false;
  if (network.family === 4) {
    const range = IPv4CidrRange.fromCidr(`${network.text}/${network.prefix}`);
    return range.contains(new IPv4CidrRange(IPv4.fromString(address.text), IPv4Prefix.fromNumber(32n)));
  }
  const range = IPv6CidrRange.fromCidr(`${network.text}/${network.prefix}`);
  return range.contains(new IPv6CidrRange(IPv6.fromString(address.text), IPv6Prefix.fromNumber(128n)));
}

export const sameAddress = (a: IpAddress, b: IpAddress): boolean => a.family === b.family && a.text === b.text;

/** The address as nft and iptables want it next to a port: brackets around IPv6. */
export const withPort = (address: IpAddress, port: number): string =>
  address.family === 4 ? `${address.text}:${port}` : `[${address.text}]:${port}`;

/**
 * A network written in an access rule (`192.168.1.0/24`, `fe80::/10`, `192.168.1.1`): any valid
 * address with an optional prefix length, special ranges included, because a rule only matches
 * addresses and never names a destination by itself.
 */
export interface Network {
  family: Family;
  prefix: number;
  /** Canonical text of the network's first address. */
  text: string;
  first: bigint;
  last: bigint;
}

export type NetworkResult = { ok: true; network: Network; hostBitsSet: boolean } | { ok: false; reason: string };

export function parseNetwork(text: string): NetworkResult {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const v4 = parseIPv4(addressText);
  const v6 = v4 ? undefined : parseIPv6(addressText);
  if (!v4 && !v6) {
    if (addressText.includes('.') && !addressText.includes(':') && leadingZeroOctet(addressText)) {
      return { ok: false, reason: 'leading zeros are ambiguous (octal or decimal?); write the address without them' };
    }
    return { ok: false, reason: 'not a valid IPv4 or IPv6 address' };
  }
  const family: Family = v4 ? 4 : 6;
  const prefix = slash === -1 ? hostPrefix(family) : parsePrefixLength(text.slice(slash + 1), family);
  if (prefix === undefined) return { ok: false, reason: `prefix length must be a number from 0 to ${hostPrefix(family)}` };
  const range = v4
    ? new IPv4CidrRange(v4, IPv4Prefix.fromNumber(BigInt(prefix)))
    : new IPv6CidrRange(v6!, IPv6Prefix.fromNumber(BigInt(prefix)));
  const first = range.getFirst();
  const value = (v4 ?? v6)!.getValue();
  const firstText = v4 ? first.toString() : collapseIPv6Number(first.toString());
  return {
    ok: true,
    network: { family, prefix, text: firstText, first: first.getValue(), last: range.getLast().getValue() },
    hostBitsSet: first.getValue() !== value,
  };
}

/** The address as a number, for comparing it with a Network's bounds. */
export function addressValue(address: IpAddress): bigint {
  return address.family === 4 ? IPv4.fromString(address.text).getValue() : IPv6.fromString(address.text).getValue();
}

export const inNetwork = (network: Network, family: Family, value: bigint): boolean =>
  network.family === family && value >= network.first && value <= network.last;

/** `192.168.1.0/24`; a single address without its prefix. */
export const networkText = (network: Network): string =>
  network.prefix === hostPrefix(network.family) ? network.text : `${network.text}/${network.prefix}`;
