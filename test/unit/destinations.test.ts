/** The destination list grammar: every rule and every error the README documents. */
import { describe, expect, it } from 'vitest';
import { describeRules, parseDestinations, parsePort } from '../../src/config/destinations.js';

const parse = (text: string, family?: 4 | 6) => parseDestinations(text, { origin: 'EGRESS_DESTINATION', family });
const messages = (text: string, family?: 4 | 6) => parse(text, family).problems.map((p) => `${p.where}: ${p.message}`);

describe('destination grammar: accepted forms', () => {
  it('reads port, protocol and address, defaulting the remote port to the local one', () => {
    const { list, problems } = parse('80 tcp 203.0.113.25');
    expect(problems).toEqual([]);
    expect(list.redirects).toEqual([{ line: 1, protocol: 'tcp', port: 80, target: { family: 4, text: '203.0.113.25' }, targetPort: 80 }]);
  });

  it('reads a remote port', () => {
    expect(parse('8080 tcp 203.0.113.26 80').list.redirects[0]).toMatchObject({ port: 8080, targetPort: 80 });
  });

  it('accepts tcp, udp and sctp in any case', () => {
    const { list } = parse('1 TCP 192.0.2.1\n2 Udp 192.0.2.1\n3 sCTP 192.0.2.1');
    expect(list.redirects.map((r) => r.protocol)).toEqual(['tcp', 'udp', 'sctp']);
  });

  it('separates fields by any run of spaces and tabs, and ignores blanks around them', () => {
    const { list, problems } = parse(' \t80\t \ttcp   203.0.113.25 \t 8080\t ');
    expect(problems).toEqual([]);
    expect(list.redirects[0]).toMatchObject({ port: 80, targetPort: 8080 });
  });

  it('skips blank lines and whole-line comments, and strips trailing comments', () => {
    const { list, problems } = parse('# header\n\n   \n80 tcp 203.0.113.25 # web\n# 81 tcp 1.2.3.4\n203.0.113.27#fallback');
    expect(problems).toEqual([]);
    expect(list.redirects).toHaveLength(1);
    expect(list.fallback).toEqual({ line: 6, target: { family: 4, text: '203.0.113.27' } });
  });

  it('tolerates Windows line ends', () => {
    const { list, problems } = parse('80 tcp 203.0.113.25\r\n81 udp 203.0.113.25 91\r\n203.0.113.27\r\n');
    expect(problems).toEqual([]);
    expect(list.redirects.map((r) => r.targetPort)).toEqual([80, 91]);
    expect(list.fallback?.target).toEqual({ family: 4, text: '203.0.113.27' });
  });

  it('allows the same port on different protocols, as DNS on 53/tcp and 53/udp needs', () => {
    const { list, problems } = parse('53 udp 203.0.113.53\n53 tcp 203.0.113.53');
    expect(problems).toEqual([]);
    expect(list.redirects).toHaveLength(2);
  });

  it('numbers rules by their line in the text, comments and blank lines included', () => {
    const { list } = parse('# a\n\n80 tcp 203.0.113.25');
    expect(list.redirects[0]!.line).toBe(3);
  });

  it('takes IPv6 destinations and prints them canonically', () => {
    const { list, problems } = parse('443 tcp 2001:DB8:0:0::1 8443\n2001:db8::2', 6);
    expect(problems).toEqual([]);
    expect(list.family).toBe(6);
    expect(list.redirects[0]!.target).toEqual({ family: 6, text: '2001:db8::1' });
    expect(describeRules(list)).toEqual(['line 1: tcp port 443 -> [2001:db8::1]:8443', 'line 2: fallback, everything else -> 2001:db8::2']);
  });

  it('accepts the port bounds 1 and 65535', () => {
    expect(parse('1 tcp 192.0.2.1 65535').problems).toEqual([]);
    expect(parse('65535 udp 192.0.2.1 1').problems).toEqual([]);
  });
});

describe('destination grammar: DNS names', () => {
  it('takes a name wherever an address goes, in lower case and without the trailing dot', () => {
    const { list, problems } = parse('80 tcp DB.Example.com 5432\n53 udp dns.example.com.\nbackup.example.com');
    expect(problems).toEqual([]);
    expect(list.redirects).toEqual([
      { line: 1, protocol: 'tcp', port: 80, target: { name: 'db.example.com' }, targetPort: 5432 },
      { line: 2, protocol: 'udp', port: 53, target: { name: 'dns.example.com' }, targetPort: 53 },
    ]);
    expect(list.fallback).toEqual({ line: 3, target: { name: 'backup.example.com' } });
  });

  it('gives a list of names no family, and names no family mismatch', () => {
    expect(parse('80 tcp db.example.com').list.family).toBeUndefined();
    expect(parse('80 tcp db.example.com', 6).problems).toEqual([]);
    const mixed = parse('80 tcp db.example.com\n81 tcp 2001:db8::1\n82 tcp 192.0.2.1');
    expect(mixed.list.family).toBe(6);
    expect(mixed.problems.map((p) => p.message)).toEqual([
      "IPv4 destination 192.0.2.1 does not match the IPv6 family of line 2 (in '82 tcp 192.0.2.1')",
    ]);
  });

  it('describes names as written, with the remote port', () => {
    const { list } = parse('80 tcp db.example.com 5432\n81 tcp 2001:db8::1\nbackup.example.com', 6);
    expect(describeRules(list)).toEqual([
      'line 1: tcp port 80 -> db.example.com:5432',
      'line 2: tcp port 81 -> [2001:db8::1]:81',
      'line 3: fallback, everything else -> backup.example.com',
    ]);
  });

  it('still refuses a reused port when one of the rules names a host', () => {
    expect(messages('80 tcp db.example.com\n80 tcp 192.0.2.1')[0]).toContain('local port 80/tcp is already used on line 1');
  });

  it('parses 100,000 rules of distinct names quickly, memoized like addresses', () => {
    const lines = Array.from({ length: 100_000 }, (_, i) => `${(i % 65535) + 1} ${i < 65535 ? 'tcp' : 'udp'} host-${i}.example.com`);
    const started = performance.now();
    const { list, problems } = parse(lines.join('\n'));
    const ms = performance.now() - started;
    expect(problems).toEqual([]);
    expect(list.redirects).toHaveLength(100_000);
    console.log(`100,000 distinct names parsed in ${Math.round(ms)} ms`);
  });
});

describe('destination grammar: errors name the line and the text', () => {
  it.each([
    ['0 tcp 192.0.2.1', "EGRESS_DESTINATION line 1: invalid port '0', must be a number from 1 to 65535 (in '0 tcp 192.0.2.1')"],
    ['65536 tcp 192.0.2.1', "EGRESS_DESTINATION line 1: invalid port '65536', must be a number from 1 to 65535 (in '65536 tcp 192.0.2.1')"],
    ['+80 tcp 192.0.2.1', "EGRESS_DESTINATION line 1: invalid port '+80', must be a number from 1 to 65535 (in '+80 tcp 192.0.2.1')"],
    ['8e1 tcp 192.0.2.1', "EGRESS_DESTINATION line 1: invalid port '8e1', must be a number from 1 to 65535 (in '8e1 tcp 192.0.2.1')"],
    ['080 tcp 192.0.2.1', "EGRESS_DESTINATION line 1: invalid port '080', must be a number from 1 to 65535 (in '080 tcp 192.0.2.1')"],
    ['80 tcp 192.0.2.1 0', "EGRESS_DESTINATION line 1: invalid remote port '0', must be a number from 1 to 65535 (in '80 tcp 192.0.2.1 0')"],
    ['80 icmp 192.0.2.1', "EGRESS_DESTINATION line 1: invalid protocol 'icmp', must be tcp, udp or sctp (in '80 icmp 192.0.2.1')"],
    ['80 tcp 999.1.1.1', "EGRESS_DESTINATION line 1: invalid address '999.1.1.1': not a valid IPv4 or IPv6 address (in '80 tcp 999.1.1.1')"],
    ['80 tcp 010.1.1.1', "EGRESS_DESTINATION line 1: invalid address '010.1.1.1': leading zeros are ambiguous (octal or decimal?); write the address without them (in '80 tcp 010.1.1.1')"],
    ['80 tcp 127.0.0.1', "EGRESS_DESTINATION line 1: invalid address '127.0.0.1': 127.0.0.1 is a loopback address (in '80 tcp 127.0.0.1')"],
    ['80 tcp 224.0.0.1', "EGRESS_DESTINATION line 1: invalid address '224.0.0.1': 224.0.0.1 is a multicast address (in '80 tcp 224.0.0.1')"],
    ['80 tcp', "EGRESS_DESTINATION line 1: expected '<port> <protocol> <address> [<remote port>]' or a fallback '<address>', got 2 fields (in '80 tcp')"],
    ['80 tcp 192.0.2.1 80 extra', "EGRESS_DESTINATION line 1: expected '<port> <protocol> <address> [<remote port>]' or a fallback '<address>', got 5 fields (in '80 tcp 192.0.2.1 80 extra')"],
    ['example', "EGRESS_DESTINATION line 1: invalid fallback name 'example': a name needs at least one dot (single-label names are not resolved) (in 'example')"],
    ['80 tcp db_1.example.com', "EGRESS_DESTINATION line 1: invalid name 'db_1.example.com': labels are 1-63 letters, digits or hyphens, not starting or ending with a hyphen (in '80 tcp db_1.example.com')"],
    ['80 tcp db..example.com', "EGRESS_DESTINATION line 1: invalid name 'db..example.com': empty label (two dots in a row?) (in '80 tcp db..example.com')"],
    ['80 tcp 203.0.113.8e1', "EGRESS_DESTINATION line 1: invalid address '203.0.113.8e1': not a valid IPv4 or IPv6 address (in '80 tcp 203.0.113.8e1')"],
    ['80 tcp ex\u212aample.com', "EGRESS_DESTINATION line 1: invalid name 'ex\\u{212a}ample.com': labels are 1-63 letters, digits or hyphens, not starting or ending with a hyphen (in '80 tcp ex\\u{212a}ample.com')"],
  ])('rejects %j', (text, message) => {
    expect(messages(text)).toEqual([message]);
  });

  it('rejects IPv4-mapped IPv6 as ambiguous', () => {
    expect(messages('80 tcp ::ffff:192.0.2.1', 6)[0]).toContain('is an IPv4-mapped IPv6 address; write the IPv4 address itself');
  });

  it('rejects a rule after the fallback, naming both lines', () => {
    expect(messages('203.0.113.27\n80 tcp 203.0.113.25')).toEqual([
      "EGRESS_DESTINATION line 2: a rule follows the fallback address on line 1; the fallback must be the last rule (in '80 tcp 203.0.113.25')",
    ]);
  });

  it('rejects a second fallback', () => {
    expect(messages('203.0.113.27\n203.0.113.28')[0]).toMatch(/^EGRESS_DESTINATION line 2: a rule follows the fallback/);
  });

  it('rejects a reused port and protocol, naming the first use', () => {
    expect(messages('80 tcp 192.0.2.1\n80 TCP 192.0.2.2')).toEqual([
      "EGRESS_DESTINATION line 2: local port 80/tcp is already used on line 1; each port and protocol may be redirected once (in '80 TCP 192.0.2.2')",
    ]);
  });

  it('rejects a destination whose family differs from the source', () => {
    expect(messages('80 tcp 2001:db8::1', 4)).toEqual([
      "EGRESS_DESTINATION line 1: IPv6 destination 2001:db8::1 does not match the IPv4 family of the source address (in '80 tcp 2001:db8::1')",
    ]);
  });

  it('without a source, rejects a family that differs from the first rule', () => {
    expect(messages('80 tcp 192.0.2.1\n81 tcp 2001:db8::1')[0]).toContain('does not match the IPv4 family of line 1');
  });

  it('reports every bad line, not only the first', () => {
    expect(messages('0 tcp 192.0.2.1\n80 tcp 192.0.2.1\n81 xtp 192.0.2.1').map((m) => m.split(':')[0])).toEqual([
      'EGRESS_DESTINATION line 1',
      'EGRESS_DESTINATION line 3',
    ]);
  });

  it('escapes NULs and look-alike Unicode digits in messages so they are visible', () => {
    expect(messages('8\u00000 tcp 192.0.2.1')[0]).toContain("invalid port '8\\u00000'");
    expect(messages('８0 tcp 192.0.2.1')[0]).toContain("invalid port '\\u{ff18}0'");
  });

  it('cuts a huge line in the message', () => {
    const message = messages(`80 tcp ${'1'.repeat(1_000_000)}`)[0]!;
    expect(message.length).toBeLessThan(400);
    expect(message).toContain('characters)');
  });

  it('names the file when the list came from EGRESS_DESTINATION_FILE', () => {
    const { problems } = parseDestinations('\n80 udp 1.2.3', { origin: 'EGRESS_DESTINATION_FILE /etc/egress/destinations' });
    expect(problems[0]!.where).toBe('EGRESS_DESTINATION_FILE /etc/egress/destinations line 2');
  });
});

describe('ports', () => {
  it.each(['1', '80', '65535'])('parses %s', (text) => expect(parsePort(text)).toBe(Number(text)));
  it.each(['', '0', '00', '65536', '-1', '+1', '1e3', '0x50', ' 80', '80 ', '٨٠', '1.0'])('refuses %j', (text) =>
    expect(parsePort(text)).toBeUndefined(),
  );
});

describe('reserved and deprecated addresses', () => {
  it('rejects the reserved range 240.0.0.0/4', () => {
    expect(messages('80 tcp 240.1.2.3')[0]).toContain('240.1.2.3 is in the reserved range 240.0.0.0/4');
  });

  it('rejects IPv4-compatible IPv6 addresses as ambiguous', () => {
    expect(messages('80 tcp ::1.2.3.4', 6)[0]).toContain('is an IPv4-compatible IPv6 address, deprecated and ambiguous');
  });
});
