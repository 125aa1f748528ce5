/** The HTTP proxy's access list grammar: the legacy squid container's test vectors, and every error. */
import { describe, expect, it } from 'vitest';
import { describeProxyRules, parseProxyRules, summarizeProxyRules } from '../../src/http-proxy/rules.js';
import { formatProblem } from '../../src/problem.js';

const ORIGIN = 'EGRESS_HTTP_PROXY_DESTINATION';
const parse = (text: string) => parseProxyRules(text, ORIGIN);
const errors = (text: string) => parse(text).problems.map(formatProblem);
const understood = (text: string) => {
  const parsed = parse(text);
  expect(parsed.problems.map(formatProblem)).toEqual([]);
  return describeProxyRules(parsed.rules);
};

describe('HTTP proxy rules: the legacy script accepts, and so do we', () => {
  it('* alone: everything is allowed', () => {
    const { rules, problems } = parse('*');
    expect(problems).toEqual([]);
    expect(rules).toEqual({ rules: [], wildcardLine: 1 });
    expect(summarizeProxyRules(rules)).toBe('1 rule, everything else is allowed');
  });

  it('example.com: that name only, everything else denied', () => {
    const { rules } = parse('example.com');
    expect(rules).toEqual({ rules: [{ line: 1, action: 'allow', match: { kind: 'name', name: 'example.com', subdomains: false } }] });
    expect(summarizeProxyRules(rules)).toBe('1 rule, everything else is denied');
  });

  it('!example.com: a deny rule', () => {
    expect(parse('!example.com').rules.rules[0]).toMatchObject({ action: 'deny', match: { kind: 'name', name: 'example.com' } });
  });

  it('*.example.com: the name and every name under it', () => {
    expect(parse('*.example.com').rules.rules[0]).toMatchObject({ action: 'allow', match: { kind: 'name', name: 'example.com', subdomains: true } });
  });

  it('192.168.1.1: a single address', () => {
    expect(understood('192.168.1.1')).toEqual(['line 1: allow 192.168.1.1 (addresses in the request, or resolved from a requested name)']);
  });

  it('192.168.1.0/24: a network', () => {
    const rule = parse('192.168.1.0/24').rules.rules[0]!;
    expect(rule.match).toMatchObject({ kind: 'network', network: { family: 4, prefix: 24, text: '192.168.1.0', first: 0xc0a80100n, last: 0xc0a801ffn } });
  });

  it('!*.example.net then *: deny those, allow everything else', () => {
    expect(understood('!*.example.net\n*')).toEqual([
      'line 1: deny *.example.net (the name and every name under it)',
      'line 2: allow everything else (*)',
    ]);
  });

  it('a commented list of !*.bad.example.com, *.example.com, 192.168.0.0/16 and fe80::/10', () => {
    const list = ['# Allow access to example.com, except bad.example.com', '!*.bad.example.com', '*.example.com', '', '# and the local networks', '192.168.0.0/16', 'fe80::/10'].join('\n');
    expect(understood(list)).toEqual([
      'line 2: deny *.bad.example.com (the name and every name under it)',
      'line 3: allow *.example.com (the name and every name under it)',
      'line 6: allow 192.168.0.0/16 (addresses in the request, or resolved from a requested name)',
      'line 7: allow fe80::/10 (addresses in the request, or resolved from a requested name)',
    ]);
  });
});

describe('HTTP proxy rules: the legacy script refuses, and so do we, naming the line', () => {
  it('* followed by another rule', () => {
    expect(errors('*\nexample.com')).toEqual([
      `${ORIGIN} line 2: a rule follows '*' on line 1; '*' (everything else) must be the last rule (in 'example.com')`,
    ]);
  });

  it("'foo bar': one destination per line", () => {
    expect(errors('foo bar')).toEqual([`${ORIGIN} line 1: bad destination: one name, address or network per line (in 'foo bar')`]);
  });

  it('a list with no rules at all', () => {
    expect(errors('# nothing here\n\n')).toEqual([`${ORIGIN}: has no rules, only comments or blank lines`]);
    expect(errors('')).toEqual([`${ORIGIN}: has no rules, only comments or blank lines`]);
  });
});

describe('HTTP proxy rules: layout', () => {
  it('takes trailing comments, tabs and blanks around a rule, CRLF and a byte-order mark', () => {
    const { rules, problems } = parse('\ufeff# list\r\n\t!*.bad.example.com \t# no\r\n  example.com\t\r\n\r\n*   # the rest\r\n');
    expect(problems).toEqual([]);
    expect(rules.rules.map((r) => [r.line, r.action])).toEqual([[2, 'deny'], [3, 'allow']]);
    expect(rules.wildcardLine).toBe(5);
  });

  it('compares names in lower case without the trailing dot', () => {
    expect(parse('Example.COM.').rules.rules[0]!.match).toEqual({ kind: 'name', name: 'example.com', subdomains: false });
    expect(parse('*.Example.Com.').rules.rules[0]!.match).toEqual({ kind: 'name', name: 'example.com', subdomains: true });
  });

  it('reads IPv6 addresses and networks canonically', () => {
    expect(understood('2001:DB8:0::1\n!2001:db8:0:0::/32')).toEqual([
      'line 1: allow 2001:db8::1 (addresses in the request, or resolved from a requested name)',
      'line 2: deny 2001:db8::/32 (addresses in the request, or resolved from a requested name)',
    ]);
  });

  it('accepts a network with host bits set as squid did, with a warning naming the network it means', () => {
    const { rules, problems, warnings } = parse('192.168.1.1/24');
    expect(problems).toEqual([]);
    expect(rules.rules[0]!.match).toMatchObject({ network: { text: '192.168.1.0', prefix: 24 } });
    expect(warnings.map(formatProblem)).toEqual([
      `${ORIGIN} line 1: 192.168.1.1/24 has host bits set; it is read as the network 192.168.1.0/24, as squid read it (in '192.168.1.1/24')`,
    ]);
  });
});

describe('HTTP proxy rules: every error, each with its line and text', () => {
  it('reports all errors of a list, not only the first', () => {
    const list = ['999.1.1.1', 'ok.example.com', '10.0.0.0/33', '-bad.example.com', '!', '!*', 'foo.*.com', 'localhost', '*', 'after.example.com'].join('\n');
    expect(errors(list)).toEqual([
      `${ORIGIN} line 1: invalid address or network '999.1.1.1': not a valid IPv4 or IPv6 address (in '999.1.1.1')`,
      `${ORIGIN} line 3: invalid address or network '10.0.0.0/33': prefix length must be a number from 0 to 32 (in '10.0.0.0/33')`,
      `${ORIGIN} line 4: invalid name '-bad.example.com': labels are 1-63 letters, digits or hyphens, not starting or ending with a hyphen (in '-bad.example.com')`,
      `${ORIGIN} line 5: '!' needs a destination right after it (in '!')`,
      `${ORIGIN} line 6: '!*' is not a rule: without '*', everything no rule allows is denied already (in '!*')`,
      `${ORIGIN} line 7: '*' is allowed alone (everything else) or as '*.' in front of a name, nowhere else (in 'foo.*.com')`,
      `${ORIGIN} line 8: invalid name 'localhost': a name needs at least one dot (single-label names are not resolved) (in 'localhost')`,
      `${ORIGIN} line 10: a rule follows '*' on line 9; '*' (everything else) must be the last rule (in 'after.example.com')`,
    ]);
  });

  it('refuses leading zeros, zones and a space after !', () => {
    expect(errors('010.1.1.1')[0]).toContain('leading zeros are ambiguous');
    expect(errors('fe80::1%eth0')[0]).toContain('not a valid IPv4 or IPv6 address');
    expect(errors('! example.com')[0]).toContain('bad destination: one name, address or network per line');
  });

  it('refuses a wildcard name whose domain is not a name', () => {
    expect(errors('*.com')).toEqual([
      `${ORIGIN} line 1: invalid name 'com' after '*.': a name needs at least one dot (single-label names are not resolved) (in '*.com')`,
    ]);
    expect(errors('*.')[0]).toContain("invalid name '' after '*.': empty name");
  });

  it('escapes control characters in the quoted text', () => {
    expect(errors('exa\u0007mple.com')[0]).toContain("(in 'exa\\u0007mple.com')");
  });
});
