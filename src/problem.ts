/**
 * Errors are values until the edge of the program: every check returns problems that say where
 * (a variable, a file, a line) and what, and only the CLI turns them into output and an exit code.
 */

/** What kind of failure, which also picks the exit code at the edge. */
export type ProblemKind =
  /** The configuration or a destination list is wrong; nothing was changed. */
  | 'config'
  /** The pod cannot be configured as it is (no macvlan, a tool or a capability missing). */
  | 'environment'
  /** A step that changes the network or the firewall failed. */
  | 'apply';

export interface Problem {
  kind: ProblemKind;
  /** Where the problem is: `EGRESS_SOURCE`, `EGRESS_DESTINATION line 3`, `step 'default route'`. */
  where: string;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(...problems: Problem[]): Result<T> => ({ ok: false, problems });

export function problem(kind: ProblemKind, where: string, message: string): Problem {
  return { kind, where, message };
}

export function formatProblem(p: Problem): string {
  return p.where ? `${p.where}: ${p.message}` : p.message;
}

/** Exit codes, documented in the README: 1 invalid configuration, 2 unsuitable pod, 3 apply failed. */
export function exitCodeFor(problems: readonly Problem[]): number {
  if (problems.some((p) => p.kind === 'apply')) return 3;
  if (problems.some((p) => p.kind === 'environment')) return 2;
  return 1;
}

/**
 * Quotes user text for an error message: control characters, NULs and non-ASCII are escaped so
 * that the message stays one readable line, and very long text is cut.
 */
export function quote(text: string, max = 80): string {
  const cut = text.length > max ? `${text.slice(0, max)}…(${text.length} characters)` : text;
  const escaped = JSON.stringify(cut).slice(1, -1).replace(/'/g, "\\'");
  // Escape non-ASCII too, so that look-alike digits and spaces are visible as what they are.
  return `'${escaped.replace(/[^\x20-\x7e]/gu, (c) => (c === '…' ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`))}'`;
}

/**
 * A file path as messages name it: as it is when it is plain printable ASCII without blanks,
 * else quoted and escaped whole, so that each problem stays one unambiguous line.
 */
export function pathName(path: string): string {
  return /^[\x21-\x7e]+$/.test(path) ? path : quote(path, path.length);
}
