/**
 * The bad inputs issue 3 names, one by one: each is refused with one problem that names its line
 * and shows the offending text, escaped so that what looks like a digit or a blank is seen for
 * what it is. The fuzz tests next to this one cover the same ground at random.
 */
import { describe, expect, it } from 'vitest';
import { parseDestinations } from '../../../src/config/destinations.js';
import type { Problem } from '../../../src/problem.js';

const ORIGIN = 'EGRESS_DESTINATION';
const parse = (text: string, family?: 4 | 6) => parseDestinations(text, { origin: ORIGIN, family });
const formatted = (problems: Problem[]) => problems.map((p) => `${p.where}: ${p.message}`);

/** Parses `text` and expects exactly one problem, on `line`, whose message contains each fragment. */
function expectOneProblem(text: string, line: number, ...fragments: string[]): string {
  const { problems } = parse(text);
  expect(formatted(problems)).toHaveLength(1);
  expect(problems[0]!.where).toBe(`${ORIGIN} line ${line}`);
  for (const fragment of fragments) expect(problems[0]!.message).toContain(fragment);
  return problems[0]!.message;
}

const GOOD = '80 tcp 203.0.113.25';

describe('huge lines', () => {
  const MB = 1 << 20;

  it('a 1 MB word is refused on its line, quoted short with its length', () => {
    const message = expectOneProblem(`${GOOD}\n${'7'.repeat(MB)}\n`, 2, `'${'7'.repeat(80)}…(${MB} characters)'`);
    expect(message.length).toBeLessThan(400);
  });

  it('a 1 MB run of blanks between fields is still a separator, parsed in linear time', () => {
    const started = performance.now();
    const { list, problems } = parse(`80${' \t'.repeat(MB / 2)}tcp 203.0.113.25`);
    expect(problems).toEqual([]);
    expect(list.redirects).toMatchObject([{ port: 80, protocol: 'tcp', target: { text: '203.0.113.25' } }]);
    // Trimming with /[ \t]+$/ backtracked over every blank: this took minutes, now milliseconds.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('100,000 blanks before a stray word cost milliseconds, not the seconds a backtracking trim took', () => {
    const started = performance.now();
    expectOneProblem(`${GOOD}${' '.repeat(100_000)}x`, 1, "invalid remote port 'x'");
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('a 1 MB comment is ignored', () => {
    const { list, problems } = parse(`${GOOD} #${'c'.repeat(MB)}\n# ${'d'.repeat(MB)}`);
    expect(problems).toEqual([]);
    expect(list.redirects).toHaveLength(1);
  });
});

describe('NUL bytes', () => {
  it('in a port, an address or between fields: refused and shown as \\u0000', () => {
    expectOneProblem(`8\u00000 tcp 203.0.113.25`, 1, "invalid port '8\\u00000'");
    expectOneProblem(`${GOOD}\u0000`, 1, "invalid address '203.0.113.25\\u0000'");
    expectOneProblem(`80\u0000tcp 203.0.113.25`, 1, 'got 2 fields', "'80\\u0000tcp 203.0.113.25'");
    expectOneProblem(`${GOOD}\n203.0.113.27\u0000`, 2, "invalid fallback address '203.0.113.27\\u0000'");
  });

  it('in a comment: ignored with the comment', () => {
    expect(parse(`${GOOD} # \u0000 nul`).problems).toEqual([]);
  });
});

describe('Unicode digits and blanks', () => {
  it('Arabic-Indic, fullwidth and mathematical digits are not port digits', () => {
    expectOneProblem('٨٠ tcp 203.0.113.25', 1, "invalid port '\\u{668}\\u{660}'");
    expectOneProblem('８0 tcp 203.0.113.25', 1, "invalid port '\\u{ff18}0'");
    expectOneProblem('𝟠𝟘 tcp 203.0.113.25', 1, "invalid port '\\u{1d7e0}\\u{1d7d8}'");
    expectOneProblem(`${GOOD} ٤٤٣`, 1, "invalid remote port '\\u{664}\\u{664}\\u{663}'");
  });

  it('Unicode digits do not make an address', () => {
    expectOneProblem('80 tcp ٢٠٣.0.113.25', 1, "invalid address '\\u{662}\\u{660}\\u{663}.0.113.25'");
    expectOneProblem('80 tcp ２０３.0.113.25', 1, "invalid address '\\u{ff12}\\u{ff10}\\u{ff13}.0.113.25'");
  });

  it('fullwidth letters do not make a protocol', () => {
    expectOneProblem('80 ｔｃｐ 203.0.113.25', 1, "invalid protocol '\\u{ff54}\\u{ff43}\\u{ff50}'");
  });

  it('a no-break space does not separate fields, and the message shows it', () => {
    expectOneProblem('80\u00a0tcp 203.0.113.25', 1, 'got 2 fields', "'80\\u{a0}tcp 203.0.113.25'");
  });

  it('a byte-order mark at the start of the list, as Windows editors write it, is skipped', () => {
    const { list, problems } = parseDestinations(`\ufeff${GOOD}\n81 tcp 203.0.113.26`, { origin: 'EGRESS_DESTINATION' });
    expect(problems).toEqual([]);
    expect(list.redirects.map((r) => r.port)).toEqual([80, 81]);
  });

  it('a byte-order mark anywhere else is refused, and the message shows it', () => {
    expectOneProblem(`${GOOD}\n\ufeff81 tcp 203.0.113.26`, 2, "invalid port '\\u{feff}81'");
  });
});

describe('line ends', () => {
  it('a CRLF list parses exactly like its LF twin, comments and blank lines included', () => {
    const lines = ['# header', GOOD, '', '8080\ttcp 203.0.113.26 80  # remote', '53 udp 203.0.113.26', '203.0.113.27'];
    const lf = parse(lines.join('\n'));
    const crlf = parse(`${lines.join('\r\n')}\r\n`);
    expect(lf.problems).toEqual([]);
    expect(crlf.problems).toEqual([]);
    expect(crlf.list).toEqual(lf.list);
    expect(crlf.list.redirects.map((r) => r.line)).toEqual([2, 4, 5]);
  });

  it('a bad line in a CRLF list is named by its number, quoted without its CR', () => {
    const text = [GOOD, '81 tcp 203.0.113.25', '82 tpc 203.0.113.25', '83 tcp 203.0.113.25'].join('\r\n');
    const message = expectOneProblem(text, 3, "invalid protocol 'tpc'", "(in '82 tpc 203.0.113.25')");
    expect(message).not.toContain('\\r');
  });

  it('a CR anywhere but at the line end is not a blank: the line is refused', () => {
    expectOneProblem(`\r${GOOD}`, 1, "invalid port '\\r80'");
    expectOneProblem(`${GOOD}\r\r`, 1, "invalid address '203.0.113.25\\r'");
    expectOneProblem(`80 tcp\r203.0.113.25`, 1, 'got 2 fields', "'80 tcp\\r203.0.113.25'");
  });

  it('a CR-only (old Mac) file is one line, refused, showing the CRs', () => {
    expectOneProblem(`${GOOD}\r81 tcp 203.0.113.26\r`, 1, 'got 5 fields', "'80 tcp 203.0.113.25\\r81 tcp 203.0.113.26'");
  });
});

describe('IPv4-mapped IPv6', () => {
  it('is refused in every spelling, as a redirect target and as the fallback', () => {
    for (const mapped of ['::ffff:203.0.113.25', '::FFFF:203.0.113.25', '::ffff:cb00:7119', '0:0:0:0:0:ffff:cb00:7119', '0000:0000:0000:0000:0000:FFFF:CB00:7119']) {
      expectOneProblem(`80 tcp ${mapped}`, 1, `invalid address '${mapped}'`, 'IPv4-mapped');
      expectOneProblem(`80 tcp 2001:db8::25\n${mapped}`, 2, `invalid fallback address '${mapped}'`, 'IPv4-mapped');
    }
  });

  it('does not sneak an IPv4 host into an IPv6 list, nor an IPv6 form into an IPv4 one', () => {
    const { problems } = parse('80 tcp ::ffff:203.0.113.25\n81 tcp ::ffff:203.0.113.26', 4);
    expect(problems.map((p) => p.where)).toEqual([`${ORIGIN} line 1`, `${ORIGIN} line 2`]);
  });
});

describe('leading zeros', () => {
  it('in any octet are refused as ambiguous (octal to inet_aton, decimal to others)', () => {
    for (const address of ['010.1.1.1', '203.0.113.025', '203.000.113.25', '00.1.2.3', '0203.0.113.25']) {
      expectOneProblem(`80 tcp ${address}`, 1, `invalid address '${address}'`, 'leading zeros are ambiguous');
    }
  });

  it('in a port or a remote port are refused', () => {
    expectOneProblem('080 tcp 203.0.113.25', 1, "invalid port '080'");
    expectOneProblem(`${GOOD} 0443`, 1, "invalid remote port '0443'");
  });
});

describe('ports with signs, exponents or spaces', () => {
  it('a sign, an exponent, a decimal point, hex or an underscore is not a port', () => {
    for (const port of ['+80', '-80', '8e1', '8E1', '80.0', '0x50', '1_000', 'Infinity']) {
      expectOneProblem(`${port} tcp 203.0.113.25`, 1, `invalid port '${port}'`, 'from 1 to 65535');
      expectOneProblem(`${GOOD} ${port}`, 1, `invalid remote port '${port}'`);
    }
  });

  it('0 and 65536 are out of range, 1 and 65535 are in', () => {
    expectOneProblem('0 tcp 203.0.113.25', 1, "invalid port '0'");
    expectOneProblem('65536 tcp 203.0.113.25', 1, "invalid port '65536'");
    expect(parse('1 tcp 203.0.113.25 65535\n65535 udp 203.0.113.25 1').problems).toEqual([]);
  });

  it('a space inside a port splits it into two fields, and the line is refused', () => {
    expectOneProblem('8 0 tcp 203.0.113.25', 1, "invalid protocol '0'");
    expectOneProblem(`${GOOD} 4 43`, 1, 'got 5 fields');
    expectOneProblem('80 tcp 203.0.113.25\t4\t43', 1, 'got 5 fields');
  });
});

describe('many problems at once', () => {
  it('every bad line is reported once, in order, and the good ones are not', () => {
    const text = [GOOD, '+81 tcp 203.0.113.25', '82 tcp 010.0.113.25', '', '83 tcp ::ffff:203.0.113.25', '84 tcp 203.0.113.25', '85\u0000 tcp 203.0.113.25'].join('\n');
    expect(parse(text).problems.map((p) => p.where)).toEqual([2, 3, 5, 7].map((n) => `${ORIGIN} line ${n}`));
  });
});
