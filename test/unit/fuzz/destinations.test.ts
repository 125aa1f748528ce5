/**
 * Property-based tests of the destination grammar: random, mutated and oversized lists never
 * crash the parser, never yield a rule the grammar forbids, and never get a rejection that does
 * not name and quote its line. The parser is held to an independent reference (./reference.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseUnicastAddress } from '../../../src/config/address.js';
import { parseDestinations, parsePort } from '../../../src/config/destinations.js';
import { FIELDS, INSERTIONS, anyText, hostName, ipv4, ipv6, joinLines, mutatedList, mutation, mutate, tokenSoup, validList } from './arbitraries.js';
import { checkParse } from './check.js';
import { type Family, isName, referenceAddress, referenceName, referencePort, referenceProtocol } from './reference.js';
import { parseHostName } from '../../../src/config/hostname.js';

const INLINE = 'EGRESS_DESTINATION';
const FILE = 'EGRESS_DESTINATION_FILE /etc/egress/destinations';
const family = fc.constantFrom<Family | undefined>(undefined, 4, 6);

describe('the parser agrees with the reference on single fields', () => {
  const portLike = fc.oneof(
    fc.constantFrom(...FIELDS, ...INSERTIONS),
    fc.integer({ min: -70000, max: 700000 }).map(String),
    fc.string({ unit: fc.constantFrom('0', '1', '5', '6', '9', '+', '-', 'e', '.', ' ', '٣', '８'), maxLength: 7 }),
  );
  it('parsePort accepts exactly 1-65535 in plain ASCII decimal', () => {
    fc.assert(
      fc.property(portLike, (text) => {
        expect(parsePort(text)).toBe(referencePort(text));
      }),
      { numRuns: 2000 },
    );
  });

  const protocolLike = fc.oneof(
    fc.mixedCase(fc.constantFrom('tcp', 'udp', 'sctp')),
    // Not a space or a tab: at an edge of the field they are separators, and the line is fine.
    fc.tuple(fc.mixedCase(fc.constantFrom('tcp', 'udp', 'sctp')), fc.constantFrom(...INSERTIONS.filter((c) => c !== ' ' && c !== '\t')), fc.nat()).map(([p, c, at]) => {
      const i = at % (p.length + 1);
      return p.slice(0, i) + c + p.slice(i);
    }),
    fc.constantFrom('ｔｃｐ', 'ＵＤＰ', 'tcp6', 'icmp', 'ſctp', 'TCP\u0130', 'udp\u212a'),
  );
  it('a protocol is tcp, udp or sctp in ASCII letters of any case, with nothing around it', () => {
    fc.assert(
      fc.property(protocolLike, (text) => {
        const { list, problems } = parseDestinations(`80 ${text} 203.0.113.25`, { origin: INLINE });
        const expected = referenceProtocol(text);
        expect(list.redirects.map((r) => r.protocol)).toEqual(expected ? [expected] : []);
        expect(problems).toHaveLength(expected ? 0 : 1);
      }),
      { numRuns: 1000 },
    );
  });

  const addressLike = fc.oneof(
    ipv4.map((a) => a.text),
    ipv6.map((a) => a.text),
    fc.constantFrom(...FIELDS),
    fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9', 'a', 'f', 'F', ':', '.', '%', '٣', '８'), maxLength: 24 }),
    fc.tuple(ipv4, fc.constantFrom(...INSERTIONS), fc.nat()).map(([a, c, at]) => a.text.slice(0, at % 8) + c + a.text.slice(at % 8)),
  );
  it('addresses are accepted exactly when canonical-able, unicast and unambiguous, and come back canonical', () => {
    fc.assert(
      fc.property(addressLike, (text) => {
        const parsed = parseUnicastAddress(text);
        const expected = referenceAddress(text);
        expect(parsed.ok ? parsed.address : undefined).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the parser agrees with the reference on DNS names', () => {
  const nameLike = fc.oneof(
    hostName.map((n) => n.text),
    fc.constantFrom(...FIELDS),
    fc.string({ unit: fc.constantFrom('a', 'Z', 'k', '0', '9', '-', '.', '_', 'é', '\u212a', '\u0130'), maxLength: 24 }),
    fc.tuple(hostName, fc.constantFrom(...INSERTIONS), fc.nat()).map(([n, c, at]) => n.text.slice(0, at % (n.text.length + 1)) + c + n.text.slice(at % (n.text.length + 1))),
  );
  it('parseHostName accepts exactly the grammar’s names, in lower case without the trailing dot', () => {
    fc.assert(
      fc.property(nameLike, (text) => {
        const parsed = parseHostName(text);
        expect(parsed.ok ? parsed.host : undefined).toEqual(referenceName(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('a rule with a name is kept with the name, whatever the family of the source', () => {
    fc.assert(
      fc.property(hostName, family, (name, sourceFamily) => {
        const { list, problems } = parseDestinations(`5432 tcp ${name.text}\n${name.text}`, { origin: INLINE, family: sourceFamily });
        expect(problems).toEqual([]);
        expect(list.redirects.map((r) => r.target)).toEqual([name.target]);
        expect(list.fallback?.target).toEqual(name.target);
        expect(list.family).toBe(sourceFamily);
      }),
      { numRuns: 300 },
    );
  });
});

describe('valid lists round-trip', () => {
  it('every generated rule comes back exactly, in order, with its line, and nothing else', () => {
    fc.assert(
      fc.property(validList, fc.boolean(), (list, withFamily) => {
        const parsed = parseDestinations(list.text, { origin: INLINE, family: withFamily ? list.family : undefined });
        expect(parsed.problems).toEqual([]);
        expect(parsed.list.redirects).toEqual(list.redirects);
        expect(parsed.list.fallback).toEqual(list.fallback);
        // Names have no family: only an address (or the source) gives the list one.
        const hasAddresses = [...list.redirects, ...(list.fallback ? [list.fallback] : [])].some((r) => !isName(r.target));
        expect(parsed.list.family).toBe(withFamily || hasAddresses ? list.family : undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('a valid list is refused when the source has the other family, one problem per address; names stay', () => {
    fc.assert(
      fc.property(validList, (list) => {
        const other: Family = list.family === 4 ? 6 : 4;
        const parsed = parseDestinations(list.text, { origin: INLINE, family: other });
        checkParse(list.text, parsed, { origin: INLINE, family: other });
        const rules = [...list.redirects, ...(list.fallback ? [list.fallback] : [])];
        expect(parsed.problems).toHaveLength(rules.filter((r) => !isName(r.target)).length);
      }),
      { numRuns: 100 },
    );
  });
});

describe('mutated and random lists', () => {
  it('mutated lists: no throw, no forbidden rule, every problem names and quotes its line', () => {
    fc.assert(
      fc.property(mutatedList, family, fc.constantFrom(INLINE, FILE), (list, sourceFamily, origin) => {
        checkParse(list.text, parseDestinations(list.text, { origin, family: sourceFamily }), { origin, family: sourceFamily });
      }),
      { numRuns: 600 },
    );
  });

  it('token soup: the same', () => {
    fc.assert(
      fc.property(tokenSoup, family, (text, sourceFamily) => {
        checkParse(text, parseDestinations(text, { origin: INLINE, family: sourceFamily }), { origin: INLINE, family: sourceFamily });
      }),
      { numRuns: 400 },
    );
  });

  it('any text at all: the same', () => {
    fc.assert(
      fc.property(anyText, family, (text, sourceFamily) => {
        checkParse(text, parseDestinations(text, { origin: INLINE, family: sourceFamily }), { origin: INLINE, family: sourceFamily });
      }),
      { numRuns: 300 },
    );
  });

  it('CRLF and LF line ends give the same rules and the same problems', () => {
    fc.assert(
      fc.property(mutatedList, (list) => {
        fc.pre(list.lines.every((l) => !l.endsWith('\r')));
        const lf = parseDestinations(joinLines(list.lines, [false], true), { origin: INLINE });
        const crlf = parseDestinations(joinLines(list.lines, [true], true), { origin: INLINE });
        expect(crlf.list).toEqual(lf.list);
        expect(crlf.problems.map((p) => p.where)).toEqual(lf.problems.map((p) => p.where));
      }),
      { numRuns: 200 },
    );
  });
});

describe('oversized input', () => {
  const MB = 1 << 20;
  /** Ways to make one line about 1 MB long; the first two keep it valid. */
  const blowUps: Record<string, (line: string, at: number) => string> = {
    'blanks between fields': (line) => line.replace(/[ \t]+/, ' \t'.repeat(MB / 2)),
    'a long comment': (line) => `${line} #${'x'.repeat(MB)}`,
    'a long run of blanks before a word': (line) => `${line}${' '.repeat(MB)}x`,
    'a field of digits': (line, at) => line.slice(0, at) + '9'.repeat(MB) + line.slice(at),
    'a dotted field': (line) => line.replace(/[.:][^ \t]*/, '.1'.repeat(MB / 2)),
    'a colon field': (line) => line.replace(/[.:][^ \t]*/, ':1'.repeat(MB / 2)),
    'many fields': (line) => `${line} 80`.repeat(MB / 20),
    'NULs and look-alike digits': (line, at) => line.slice(0, at) + '\0٣８'.repeat(MB / 3) + line.slice(at),
  };

  it('a 1 MB line is judged like any other, quickly, and quoted short', () => {
    fc.assert(
      fc.property(validList, fc.constantFrom(...Object.keys(blowUps)), fc.nat(), fc.nat(), (list, how, which, at) => {
        fc.pre(list.redirects.length > 0);
        const lines = [...list.lines];
        const n = list.redirects[which % list.redirects.length]!.line - 1;
        lines[n] = blowUps[how]!(lines[n]!, at % (lines[n]!.length + 1));
        const text = lines.join('\n');
        const started = performance.now();
        const parsed = parseDestinations(text, { origin: FILE });
        // Linear work is a few milliseconds per MB; a backtracking pattern takes minutes.
        expect(performance.now() - started).toBeLessThan(3000);
        checkParse(text, parsed, { origin: FILE });
      }),
      { numRuns: 12 },
    );
  });

  it('very many lines with a few mutations: every bad line is named, every good rule kept', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10_000, max: 40_000 }), fc.array(mutation, { minLength: 1, maxLength: 5 }), (count, mutations) => {
        const protocols = ['tcp', 'udp', 'sctp'];
        const lines = Array.from({ length: count }, (_, i) => `${(i % 65535) + 1} ${protocols[Math.floor(i / 65535)]} 203.0.${(i >> 8) & 255}.${(i & 127) + 1}`);
        const mutated = mutations.reduce<string[]>((acc, m) => mutate(acc, m), lines);
        const text = mutated.join('\n');
        checkParse(text, parseDestinations(text, { origin: FILE, family: 4 }), { origin: FILE, family: 4 });
      }),
      { numRuns: 4 },
    );
  });
});
