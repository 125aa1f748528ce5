/**
 * Property-based tests of the configuration around the grammar: whatever list and whatever file
 * path it is given, parseConfig returns; it accepts exactly the lists the reference accepts, with
 * the source's family; and every problem is one printable line that names its list and line.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Environment, type FileReadResult, parseConfig } from '../../../src/config/config.js';
import { type Problem, formatProblem } from '../../../src/problem.js';
import { anyText, mutatedList, tokenSoup, validList } from './arbitraries.js';
import { unnamedLine } from './check.js';
import { type Family, quotedTexts, referenceParse } from './reference.js';

const SOURCE: Record<Family, Environment> = {
  4: { EGRESS_SOURCE: '192.168.12.99/24', EGRESS_GATEWAY: '192.168.12.1' },
  6: { EGRESS_SOURCE: '2001:db8:12::99/64', EGRESS_GATEWAY: '2001:db8:12::1' },
};

const listText = fc.oneof(
  { arbitrary: validList.map((l) => l.text), weight: 2 },
  { arbitrary: mutatedList.map((l) => l.text), weight: 4 },
  { arbitrary: tokenSoup, weight: 1 },
  { arbitrary: anyText, weight: 1 },
);
/** Paths as a ConfigMap mount has them, and paths no one should have: blanks, controls, Unicode. */
const path = fc.oneof(
  fc.constantFrom('/etc/egress/destinations', '/config/..data/destinations', '/tmp/a b', "/tmp/it's"),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
);
const mode = fc.constantFrom(undefined, 'init', 'legacy', 'unit-test');

const printableLine = (text: string) => !/[^\x20-\x7e…]/.test(text);

/** The list origin a problem's `where` names, when it names a line. */
function originOf(p: Problem): string | undefined {
  return /^(EGRESS_DESTINATION(?:_FILE .+)?) line [0-9]+$/s.exec(p.where)?.[1];
}

/** Whether the origin names the file unambiguously: the path itself, or quoted and escaped. */
function namesPath(origin: string, filePath: string): boolean {
  const shown = origin.slice('EGRESS_DESTINATION_FILE '.length);
  if (shown === filePath) return /^[\x21-\x7e]+$/.test(filePath);
  const quoted = quotedTexts(shown);
  return shown.startsWith("'") && quoted.length === 1 && quoted[0]!.text === filePath && !quoted[0]!.cut;
}

describe('parseConfig on random and mutated destination lists', () => {
  it('returns, accepts exactly what the grammar allows, and names every bad line in one printable line', () => {
    fc.assert(
      fc.property(fc.constantFrom<Family>(4, 6), fc.boolean(), path, listText, mode, (family, fromFile, filePath, text, chosenMode) => {
        const env: Environment = {
          ...SOURCE[family],
          EGRESS_ROUTER_MODE: chosenMode,
          ...(fromFile ? { EGRESS_DESTINATION_FILE: filePath } : { EGRESS_DESTINATION: text }),
        };
        const reads: string[] = [];
        const readFile = (p: string): FileReadResult => {
          reads.push(p);
          return p === filePath ? { ok: true, text } : { ok: false, reason: 'cannot read: no such file' };
        };
        const result = parseConfig(env, readFile);
        expect(reads).toEqual(fromFile ? [filePath] : []);

        const expected = referenceParse(text, family);
        const hasRules = expected.redirects.length > 0 || expected.fallback !== undefined;
        const lines = text.split('\n');
        if (expected.errorLines.length === 0 && hasRules) {
          expect(result.ok).toBe(true);
          if (!result.ok) return;
          expect(result.value.family).toBe(family);
          expect(result.value.destinations?.redirects).toEqual(expected.redirects);
          expect(result.value.destinations?.fallback).toEqual(expected.fallback);
          return;
        }
        expect(result.ok).toBe(false);
        if (result.ok) return;
        for (const p of result.problems) expect(printableLine(formatProblem(p)), formatProblem(p)).toBe(true);
        if (!hasRules && expected.errorLines.length === 0) {
          expect(result.problems).toHaveLength(1);
          // An empty variable is an unset one.
          expect(result.problems[0]!.message).toMatch(!fromFile && text === '' ? /^unspecified/ : /has no rules/);
          return;
        }
        const origins = new Set(result.problems.map(originOf));
        expect(origins.size).toBe(1);
        const origin = [...origins][0];
        expect(origin).toBeDefined();
        if (fromFile) expect(namesPath(origin!, filePath), origin).toBe(true);
        else expect(origin).toBe('EGRESS_DESTINATION');
        expect(result.problems.flatMap((p) => unnamedLine(p, origin!, lines))).toEqual([]);
        expect(result.problems.map((p) => Number(/ line ([0-9]+)$/.exec(p.where)![1]))).toEqual(expected.errorLines);
      }),
      { numRuns: 500 },
    );
  });

  it('an unreadable file is one problem that names the file and says why, whatever the path', () => {
    fc.assert(
      fc.property(fc.constantFrom<Family>(4, 6), path, fc.constantFrom('cannot read: no such file', 'cannot read: it is a FIFO, not a regular file'), (family, filePath, reason) => {
        const result = parseConfig({ ...SOURCE[family], EGRESS_DESTINATION_FILE: filePath }, () => ({ ok: false, reason }));
        expect(result.ok).toBe(false);
        if (result.ok) return;
        expect(result.problems).toHaveLength(1);
        const [p] = result.problems;
        expect(p!.message).toBe(reason);
        expect(p!.where.startsWith('EGRESS_DESTINATION_FILE ')).toBe(true);
        const shown = quotedTexts(p!.where)[0]!;
        expect(shown.cut ? filePath.startsWith(shown.text) : shown.text === filePath).toBe(true);
        expect(printableLine(formatProblem(p!))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
