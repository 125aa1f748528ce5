/**
 * The haproxy configuration the legacy DNS proxy image's script (egress-dns-proxy.sh) writes for
 * a list, for the benchmark's reference contender: TCP mode, one frontend per port bound on every
 * address (`bind :<port>`), one backend per rule, the nameservers of resolv.conf with
 * `hold valid 10s`, and for a name as many `server-template` slots as it had A records when the
 * configuration was written (one plain `server` when it had one). Health checks are haproxy's
 * defaults (`check`: every 2 s, fall 3, rise 2).
 *
 * Left out from the script's `global` section: `chroot`, `pidfile`, `user` and `group`, which are
 * container housekeeping (the benchmark runs haproxy in a namespace as root, in the foreground).
 * The `log 127.0.0.1 local2` line stays: the legacy image always sent each connection's log line
 * there, whether or not a syslog daemon listened.
 */
import type { ProxyList } from '../src/dns-proxy/destinations.js';

const DEFAULTS = `
global
    log         127.0.0.1 local2
    maxconn     4000

defaults
    log                     global
    mode                    tcp
    option                  dontlognull
    option                  tcplog
    option                  redispatch
    retries                 3
    timeout http-request    100s
    timeout queue           1m
    timeout connect         10s
    timeout client          1m
    timeout server          1m
    timeout http-keep-alive 100s
    timeout check           10s
`;

/** `addressCounts`: how many A records each name had when the configuration was written. */
export function legacyHaproxyConfig(list: ProxyList, nameservers: readonly string[], addressCounts: ReadonlyMap<string, number>): string {
  const out = [DEFAULTS, 'resolvers dns-resolver'];
  nameservers.forEach((ns, i) => out.push(`    nameserver ns${i + 1} ${ns}:53`));
  out.push('    resolve_retries      3', '    timeout retry        1s', '    hold valid           10s', '');
  list.rules.forEach((rule, i) => {
    const n = i + 1;
    let server: string;
    if (rule.target.kind === 'address') server = `server dest1 ${rule.target.address.text}:${rule.targetPort} check`;
    else {
      const count = addressCounts.get(rule.target.name) ?? 1;
      const slots = count > 1 ? `server-template dest ${count}` : 'server dest1';
      server = `${slots} ${rule.target.name}:${rule.targetPort} check resolvers dns-resolver resolve-prefer ipv4`;
    }
    out.push(`frontend fe${n}`, `    bind :${rule.port}`, `    default_backend be${n}`, '', `backend be${n}`, `    ${server}`, '');
  });
  return out.join('\n');
}
