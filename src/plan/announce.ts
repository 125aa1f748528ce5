/**
 * Announcing the source address on the LAN once it is in place, so that neighbours and switches
 * forget its previous owner at once instead of when their cache entry expires. Started without
 * waiting for an answer; legacy mode repeats the request-style announcement after 2 s.
 *
 * IPv4: gratuitous ARP with arping, a reply and a request.
 * IPv6: an unsolicited neighbour advertisement (RFC 4861 7.2.6) to all nodes, with the override
 * flag and the target link-layer address. The kernel sends one by itself only with the
 * `ndisc_notify` sysctl, which a least-privilege container cannot write (/proc/sys is read-only),
 * and ipv6toolkit's na6 gives up as root without CAP_SETUID/CAP_SETGID (it switches to `nobody`).
 * So the router sends it through a raw ICMPv6 socket, which needs only CAP_NET_RAW, from Perl:
 * perl-base is essential in Debian, so every Debian-based image already has it and its Socket
 * module. The kernel builds the IPv6 header and the checksum; the script sets the hop limit to
 * 255 that neighbour discovery requires, and the interface by index.
 */
import type { Config } from '../config/config.js';
import type { LinkState } from './observed.js';

/**
 * Arguments: interface index, source address, MAC address. The message: type 136, code 0,
 * checksum 0 (the kernel fills it in), flags override (0x20000000), the target (the source
 * address), option 2 (target link-layer address) of one 8-byte unit.
 */
export const NEIGHBOUR_ADVERTISEMENT_SCRIPT = [
  'use Socket qw(:all);',
  'my ($index, $source, $mac) = @ARGV;',
  'my $target = inet_pton(AF_INET6, $source) or die "bad address $source\\n";',
  'socket(my $s, AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) or die "socket: $!\\n";',
  'setsockopt($s, IPPROTO_IPV6, IPV6_MULTICAST_IF, pack("i", $index)) or die "IPV6_MULTICAST_IF: $!\\n";',
  'setsockopt($s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, pack("i", 255)) or die "IPV6_MULTICAST_HOPS: $!\\n";',
  'bind($s, pack_sockaddr_in6(0, $target)) or die "bind $source: $!\\n";',
  'my $na = pack("CCnNa16CCa6", 136, 0, 0, 0x20000000, $target, 2, 1, pack("H12", $mac =~ s/://gr));',
  'send($s, $na, 0, pack_sockaddr_in6(0, inet_pton(AF_INET6, "ff02::1"), $index)) or die "send: $!\\n";',
].join(' ');

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function neighbourAdvertisement(config: Config, egress: LinkState | undefined): string[] | undefined {
  if (egress?.index === undefined || !egress.mac || !MAC.test(egress.mac)) return undefined;
  return ['perl', '-e', NEIGHBOUR_ADVERTISEMENT_SCRIPT, String(egress.index), config.source.text, egress.mac];
}

/** The announcements right after the address is in place. */
export function planAnnouncements(config: Config, egress: LinkState | undefined): string[][] {
  if (config.family === 6) {
    const advertisement = neighbourAdvertisement(config, egress);
    return advertisement ? [advertisement] : [];
  }
  const base = ['-c', '1', '-I', config.egressInterface, config.source.text];
  return [
    ['arping', '-A', ...base],
    ['arping', '-U', ...base],
  ];
}

/** What legacy mode sends again after 2 s, as the legacy router did: the request, or the advertisement. */
export function planReannouncements(config: Config, egress: LinkState | undefined): string[][] {
  return planAnnouncements(config, egress).filter((argv) => argv[0] !== 'arping' || argv[1] === '-U');
}
