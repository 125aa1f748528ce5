/**
 * The three promises the fuzz tests hold the parser to, as assertions on one parse:
 *   1. it returns (the caller calls it; a throw fails the property);
 *   2. every rule it returns is one the grammar allows, and it returns exactly the reference's;
 *   3. every problem names a line of the input that holds a rule, and quotes text of that line.
 */
import { expect } from 'vitest';
import type { DestinationList, ParsedList } from '../../../src/config/destinations.js';
import type { Problem } from '../../../src/problem.js';
import { type Destination, type Family, isName, quotedTexts, referenceAddress, referenceName, referenceParse, referencePort, referenceRuleText } from './reference.js';

/**
 * A message quotes at most two texts of 80 characters, each escaped to at most 10 characters
 * (`\u{1d7e0}`): bounded, whatever the length of the line.
 */
export const MAX_MESSAGE = 2000;

/**
 * Why each returned rule is one the grammar forbids; empty when every rule is allowed. `clean`:
 * the parse reported no problem, so the list is meant to be used as it is.
 */
export function forbiddenRules(list: DestinationList, lines: readonly string[], clean: boolean): string[] {
  const wrong: string[] = [];
  const seen = new Set<string>();
  const checkTarget = (what: string, target: Destination) => {
    if (isName(target)) {
      if (referenceName(target.name)?.name !== target.name) wrong.push(`${what}: ${target.name} is not a name in canonical form`);
      return;
    }
    const again = referenceAddress(target.text);
    if (!again || again.text !== target.text || again.family !== target.family) wrong.push(`${what}: ${target.text} is not a canonical unicast address of its family`);
    if (target.family !== list.family) wrong.push(`${what}: family ${target.family} in an IPv${list.family} list`);
  };
  for (const rule of list.redirects) {
    const what = `line ${rule.line}`;
    if (referencePort(String(rule.port)) !== rule.port) wrong.push(`${what}: port ${rule.port}`);
    if (referencePort(String(rule.targetPort)) !== rule.targetPort) wrong.push(`${what}: remote port ${rule.targetPort}`);
    if (!['tcp', 'udp', 'sctp'].includes(rule.protocol)) wrong.push(`${what}: protocol ${rule.protocol}`);
    checkTarget(what, rule.target);
    const key = `${rule.port}/${rule.protocol}`;
    if (seen.has(key)) wrong.push(`${what}: ${key} used twice`);
    seen.add(key);
    // The rule must come from its line: that line's first field is its port.
    const firstField = referenceRuleText(lines[rule.line - 1] ?? '').split(/[ \t]+/)[0];
    if (firstField !== String(rule.port)) wrong.push(`${what}: no rule for port ${rule.port} on that line`);
  }
  if (list.fallback) {
    checkTarget(`fallback on line ${list.fallback.line}`, list.fallback.target);
    // Lines after it may only be reported; in a list without problems there are none.
    const after = lines.slice(list.fallback.line).some((l) => referenceRuleText(l) !== '');
    if (after && clean) wrong.push(`fallback on line ${list.fallback.line} is not the last rule`);
    if (list.redirects.some((r) => r.line > list.fallback!.line)) wrong.push('a redirect after the fallback');
  }
  return wrong;
}

/** Why a problem fails to name its line or quote it; empty when it does both. */
export function unnamedLine(p: Problem, origin: string, lines: readonly string[]): string[] {
  const wrong: string[] = [];
  const prefix = `${origin} line `;
  if (!p.where.startsWith(prefix) || !/^[1-9][0-9]*$/.test(p.where.slice(prefix.length))) return [`where ${JSON.stringify(p.where)} names no line`];
  const n = Number(p.where.slice(prefix.length));
  const raw = lines[n - 1];
  if (raw === undefined) return [`line ${n} does not exist (${lines.length} lines)`];
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (referenceRuleText(raw) === '') wrong.push(`line ${n} holds no rule`);
  // One readable line: no control characters, nothing outside ASCII but the cut mark.
  if (/[^\x20-\x7e…]/.test(p.message)) wrong.push(`message is not one printable line: ${JSON.stringify(p.message)}`);
  if (p.message.length > MAX_MESSAGE) wrong.push(`message is ${p.message.length} characters long`);
  const quoted = quotedTexts(p.message).filter((q) => q.text !== '' && line.includes(q.text));
  if (quoted.length === 0) wrong.push(`message quotes nothing of line ${n}: ${JSON.stringify(p.message)}`);
  return wrong;
}

export interface CheckOptions {
  origin: string;
  family?: Family;
}

/** Holds one parse to the three promises, against the independent reference. */
export function checkParse(text: string, parsed: ParsedList, options: CheckOptions): void {
  const lines = text.split('\n');
  const expected = referenceParse(text, options.family);
  expect(forbiddenRules(parsed.list, lines, parsed.problems.length === 0)).toEqual([]);
  expect(parsed.problems.flatMap((p) => unnamedLine(p, options.origin, lines))).toEqual([]);
  expect(parsed.problems.every((p) => p.kind === 'config')).toBe(true);
  const problemLines = parsed.problems.map((p) => Number(p.where.slice(`${options.origin} line `.length)));
  expect(problemLines).toEqual(expected.errorLines);
  expect(parsed.list.redirects).toEqual(expected.redirects);
  expect(parsed.list.fallback).toEqual(expected.fallback);
  expect(parsed.list.family).toBe(expected.family);
}
