/**
 * The line syntax every list shares (redirects, the DNS proxy's, the HTTP proxy's): one rule per
 * line; `#` starts a comment, whole-line or trailing; blank lines are skipped; fields are
 * separated by runs of spaces or tabs; a CRLF line end and a leading byte-order mark are
 * tolerated. And the one way their problems name a line: `<origin> line N: ... (in '<line>')`.
 */
import { type Problem, problem, quote } from '../problem.js';

export interface RuleLine {
  /** 1-based, as messages name it. */
  line: number;
  /** The rule without comment and surrounding blanks; never empty. */
  text: string;
  /** The line as written, without its CR, for messages. */
  raw: string;
}

const isBlank = (char: string | undefined): boolean => char === ' ' || char === '\t';

/**
 * Strips the line end's CR (a Windows file), the comment and the blanks around the fields. A CR
 * anywhere else is not a line end: it stays, so the line is refused and the message shows it.
 * The blanks are trimmed by scanning, not by a regular expression: `[ \t]+$` backtracks over
 * every blank of a long inner run, which took minutes on a 1 MB line.
 */
export function ruleText(rawLine: string): string {
  const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
  const hash = line.indexOf('#');
  const code = hash === -1 ? line : line.slice(0, hash);
  let start = 0;
  let end = code.length;
  while (start < end && isBlank(code[start])) start++;
  while (end > start && isBlank(code[end - 1])) end--;
  return code.slice(start, end);
}

/** Calls `each` for every line that holds a rule, in order. */
export function forEachRuleLine(source: string, each: (rule: RuleLine) => void): void {
  // Windows editors start a UTF-8 file with a byte-order mark; like the CR of CRLF it is not text.
  const lines = (source.startsWith('\ufeff') ? source.slice(1) : source).split('\n');
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index]!;
    const text = ruleText(raw);
    if (text !== '') each({ line: index + 1, text, raw: raw.endsWith('\r') ? raw.slice(0, -1) : raw });
  }
}

/** The problem of one line, named as every list names it. */
export const lineProblem = (origin: string, rule: RuleLine, message: string): Problem =>
  problem('config', `${origin} line ${rule.line}`, `${message} (in ${quote(rule.raw)})`);
