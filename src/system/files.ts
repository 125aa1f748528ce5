/** Reading the files the configuration names, with errors an administrator can act on. */
import { readFileSync, statSync } from 'node:fs';
import type { FileReadResult } from '../config/config.js';

/** Far above any real list (100,000 rules are about 3 MB), low enough to refuse a wrong file fast. */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;

const REASONS: Record<string, string> = {
  ENOENT: 'cannot read: no such file',
  EACCES: 'cannot read: permission denied',
  EISDIR: 'cannot read: it is a directory',
  ELOOP: 'cannot read: too many symbolic links',
};

export function readTextFile(path: string): FileReadResult {
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) return { ok: false, reason: REASONS.EISDIR! };
    if (stat.size > MAX_FILE_BYTES) return { ok: false, reason: `cannot read: ${stat.size} bytes is over the ${MAX_FILE_BYTES}-byte limit` };
    return { ok: true, text: readFileSync(path, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    return { ok: false, reason: REASONS[code] ?? `cannot read: ${(error as Error).message}` };
  }
}

/** Standard input, for `validate -` and `migrate -`. */
export function readStdin(): FileReadResult {
  try {
    return { ok: true, text: readFileSync(0, 'utf8') };
  } catch (error) {
    return { ok: false, reason: `cannot read standard input: ${(error as Error).message}` };
  }
}
