/**
 * The DNS proxy's list: every vector of the legacy script's tests (accepted and refused, with its
 * message kept recognisable), and this project's additions: comments, tabs, CRLF, a byte-order
 * mark, line numbers, every error at once.
 */
import { describe, expect, it } from 'vitest';
import { describeProxyRules, parseProxyDestinations, proxyNames, summarizeProxyList } from '../../../src/dns-proxy/destinations.js';
import { formatProblem } from '../../../src/problem.js';

const ORIGIN = 'EGRESS_DNS_PROXY_DESTINATION';
const parse = (text: string, family?: 4 | 6) => parseProxyDestinations(text, { origin: ORIGIN, family });
const messages = (text: string, family?: 4 | 6) => parse(text, family).problems.map(formatProblem);
const rules = (text: string) => {
  const { list, problems } = parse(text);
  expect(problems.map(formatProblem)).toEqual([]);
  return describeProxyRules(list);
};

describe('DNS proxy list: the legacy accepted vectors', () => {
  it('80 11.12.13.14', () => expect(rules('80 11.12.13.14')).toEqual(['line 1: tcp port 80 -> 11.12.13.14:80']));

  it('80 11.12.13.14 and 8080 21.22.23.24 100', () => {
    expect(rules('80 11.12.13.14\n8080 21.22.23.24 100')).toEqual(['line 1: tcp port 80 -> 11.12.13.14:80', 'line 2: tcp port 8080 -> 21.22.23.24:100']);
  });

  it('80 example.com', () => expect(rules('80 example.com')).toEqual(['line 1: tcp port 80 -> example.com:80 (every IPv4 address of the name)']));

  it('80 example.com and 8080 foo.com 100', () => {
    expect(rules('80 example.com\n8080 foo.com 100')).toEqual([
      'line 1: tcp port 80 -> example.com:80 (every IPv4 address of the name)',
      'line 2: tcp port 8080 -> foo.com:100 (every IPv4 address of the name)',
    ]);
  });

  it('addresses and names mixed', () => {
    const { list } = parse('80 11.12.13.14\n9000 foo.com 200\n8080 example.com 100\n8081 bar.com 100');
    expect(list.rules.map((r) => [r.port, r.target, r.targetPort])).toEqual([
      [80, { kind: 'address', address: { family: 4, text: '11.12.13.14' } }, 80],
      [9000, { kind: 'name', name: 'foo.com' }, 200],
      [8080, { kind: 'name', name: 'example.com' }, 100],
      [8081, { kind: 'name', name: 'bar.com' }, 100],
    ]);
    expect(proxyNames(list)).toEqual(['foo.com', 'example.com', 'bar.com']);
  });

  it('a commented list, line numbers counting comments and blank lines', () => {
    const text = [
      '',
      '# My DNS proxy egress router rules',
      '',
      '# Port 80 forwards to 11.12.13.14',
      '80 11.12.13.14',
      '',
      '# Port 8080 forwards to port 100 on example.com',
      '8080 example.com 100',
      '',
      '# Skip this rule for now',
      '# 9000 foo.com 200',
      '',
      '# End',
      '',
    ].join('\n');
    expect(rules(text)).toEqual(['line 5: tcp port 80 -> 11.12.13.14:80', 'line 8: tcp port 8080 -> example.com:100 (every IPv4 address of the name)']);
  });
});

describe('DNS proxy list: the legacy refused vectors', () => {
  it("'invalid' is a bad destination", () => {
    expect(messages('80 11.12.13.14\ninvalid')).toEqual([
      "EGRESS_DNS_PROXY_DESTINATION line 2: Bad destination: expected '<port> <address or name> [<remote port>]', got 1 field (in 'invalid')",
    ]);
  });

  it("'8080 invalid' is a bad destination: single-label names are refused", () => {
    expect(messages('80 11.12.13.14\n8080 invalid')).toEqual([
      "EGRESS_DNS_PROXY_DESTINATION line 2: Bad destination: invalid name 'invalid': a name needs at least one dot (single-label names are not resolved) (in '8080 invalid')",
    ]);
  });

  it('port 99999 is out of range, in the legacy words', () => {
    expect(messages('99999 11.12.13.14')).toEqual([
      "EGRESS_DNS_PROXY_DESTINATION line 1: Invalid port: 99999, must be in the range 1 to 65535 (in '99999 11.12.13.14')",
    ]);
  });

  it('remote port 88888 is out of range, in the legacy words', () => {
    expect(messages('80 11.12.13.14 88888')).toEqual([
      "EGRESS_DNS_PROXY_DESTINATION line 1: Invalid port: 88888, must be in the range 1 to 65535 (in '80 11.12.13.14 88888')",
    ]);
  });

  it('a port used twice, in the legacy words, with the first line', () => {
    expect(messages('80 11.12.13.14\n80 21.22.23.24 100')).toEqual([
      "EGRESS_DNS_PROXY_DESTINATION line 2: Proxy port 80 already used, must be unique for each destination (first used on line 1) (in '80 21.22.23.24 100')",
    ]);
  });
});

describe('DNS proxy list: forms the legacy script did not take', () => {
  it('separates fields by tabs and runs of blanks, and strips trailing comments', () => {
    expect(rules('\t80\t \tdb.example.com\t5432   # the database\n443 203.0.113.25#web')).toEqual([
      'line 1: tcp port 80 -> db.example.com:5432 (every IPv4 address of the name)',
      'line 2: tcp port 443 -> 203.0.113.25:443',
    ]);
  });

  it('tolerates Windows line ends and a byte-order mark', () => {
    expect(rules('\ufeff80 203.0.113.25\r\n81 db.example.com\r\n')).toEqual([
      'line 1: tcp port 80 -> 203.0.113.25:80',
      'line 2: tcp port 81 -> db.example.com:81 (every IPv4 address of the name)',
    ]);
  });

  it('takes names in any case and with a trailing dot, and compares them in lower case', () => {
    const { list } = parse('80 DB.Example.COM.\n81 db.example.com');
    expect(proxyNames(list)).toEqual(['db.example.com']);
  });

  it('takes IPv6 destinations, and then resolves names in IPv6', () => {
    const { list, problems } = parse('80 2001:DB8::25\n81 db.example.com');
    expect(problems).toEqual([]);
    expect(list.family).toBe(6);
    expect(describeProxyRules(list)).toEqual(['line 1: tcp port 80 -> [2001:db8::25]:80', 'line 2: tcp port 81 -> db.example.com:81 (every IPv6 address of the name)']);
  });

  it('resolves names in the family it is given (EGRESS_SOURCE), and refuses addresses of the other', () => {
    expect(parse('80 db.example.com', 6).list.family).toBe(6);
    expect(messages('80 203.0.113.25', 6)).toEqual([
      "EGRESS_DNS_PROXY_DESTINATION line 1: IPv4 destination 203.0.113.25 does not match the IPv6 family of EGRESS_SOURCE (in '80 203.0.113.25')",
    ]);
  });

  it('summarizes what it understood', () => {
    expect(summarizeProxyList(ORIGIN, parse('80 203.0.113.25\n81 db.example.com').list)).toBe('EGRESS_DNS_PROXY_DESTINATION: OK, 2 rules (1 by name), IPv4, TCP');
    expect(summarizeProxyList('stdin', parse('80 203.0.113.25').list)).toBe('stdin: OK, 1 rule, IPv4, TCP');
  });
});

describe('DNS proxy list: every error, each with its line and text', () => {
  it('reports all of them in one pass', () => {
    const text = [
      '80 203.0.113.25',
      '0 203.0.113.25',
      '080 203.0.113.25',
      'http 203.0.113.25',
      '81 999.1.1.1',
      '82 010.1.1.1',
      '83 127.0.0.1',
      '84 -bad-.example.com',
      '85 db.example.com x',
      '86 tcp 203.0.113.25',
      '87 203.0.113.25 80 extra',
      '80 db.example.com',
      '88 2001:db8::1',
      `${'9'.repeat(40)} 203.0.113.25`,
    ].join('\n');
    expect(messages(text)).toEqual([
      "EGRESS_DNS_PROXY_DESTINATION line 2: Invalid port: 0, must be in the range 1 to 65535 (in '0 203.0.113.25')",
      "EGRESS_DNS_PROXY_DESTINATION line 3: Invalid port: 080, must be in the range 1 to 65535, without leading zeros (in '080 203.0.113.25')",
      "EGRESS_DNS_PROXY_DESTINATION line 4: Bad destination: port 'http' is not a number (in 'http 203.0.113.25')",
      "EGRESS_DNS_PROXY_DESTINATION line 5: Bad destination: invalid address '999.1.1.1': not a valid IPv4 or IPv6 address (in '81 999.1.1.1')",
      "EGRESS_DNS_PROXY_DESTINATION line 6: Bad destination: invalid address '010.1.1.1': leading zeros are ambiguous (octal or decimal?); write the address without them (in '82 010.1.1.1')",
      "EGRESS_DNS_PROXY_DESTINATION line 7: Bad destination: invalid address '127.0.0.1': 127.0.0.1 is a loopback address (in '83 127.0.0.1')",
      "EGRESS_DNS_PROXY_DESTINATION line 8: Bad destination: invalid name '-bad-.example.com': labels are 1-63 letters, digits or hyphens, not starting or ending with a hyphen (in '84 -bad-.example.com')",
      "EGRESS_DNS_PROXY_DESTINATION line 9: Bad destination: remote port 'x' is not a number (in '85 db.example.com x')",
      "EGRESS_DNS_PROXY_DESTINATION line 10: Bad destination: no protocol field here ('tcp'); the DNS proxy relays TCP, write '<port> <address or name> [<remote port>]' (in '86 tcp 203.0.113.25')",
      "EGRESS_DNS_PROXY_DESTINATION line 11: Bad destination: expected '<port> <address or name> [<remote port>]', got 4 fields (in '87 203.0.113.25 80 extra')",
      "EGRESS_DNS_PROXY_DESTINATION line 12: Proxy port 80 already used, must be unique for each destination (first used on line 1) (in '80 db.example.com')",
      "EGRESS_DNS_PROXY_DESTINATION line 13: IPv6 destination 2001:db8::1 does not match the IPv4 family of line 1 (in '88 2001:db8::1')",
      `EGRESS_DNS_PROXY_DESTINATION line 14: Invalid port: '${'9'.repeat(20)}…(40 characters)', must be in the range 1 to 65535 (in '${'9'.repeat(40)} 203.0.113.25')`,
    ]);
  });

  it('shows control characters and look-alikes escaped', () => {
    expect(messages('80 db\u00a0example.com')).toEqual([
      "EGRESS_DNS_PROXY_DESTINATION line 1: Bad destination: invalid name 'db\\u{a0}example.com': labels are 1-63 letters, digits or hyphens, not starting or ending with a hyphen (in '80 db\\u{a0}example.com')",
    ]);
  });
});
