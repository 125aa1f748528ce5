/** Reading the files the configuration names, with errors an administrator can act on. */
import { type Stats, readFileSync, statSync } from 'node:fs';
import type { FileReadResult } from '../config/config.js';

/** Far above any real list (100,000 rules are about 3 MB), low enough to refuse a wrong file fast. */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;

const REASONS: Record<string, string> = {
  ENOENT: 'cannot read: no such file',
  EACCES: 'cannot read: permission denied',
  EISDIR: 'cannot read: it is a directory',
  ELOOP: 'cannot read: too many symbolic links',
  ENOTDIR: 'cannot read: a part of the path is not a directory',
  ENAMETOOLONG: 'cannot read: the path is too long',
};

/** What a path that is not a regular file is, for the message. */
function kindOf(stat: Stats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  return 'a special file';
}

/** Node's message without the path it repeats (the caller names the path already, escaped). */
function withoutPath(error: NodeJS.ErrnoException): string {
  const message = error.message;
  return error.syscall ? message.split(`, ${error.syscall} '`)[0]! : message;
}

export function readTextFile(path: string): FileReadResult {
  // No file name holds one; Node would refuse it with a message that repeats the raw path.
  if (path.includes('\0')) return { ok: false, reason: 'cannot read: the path contains a NUL byte' };
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) return { ok: false, reason: REASONS.EISDIR! };
    // A FIFO without a writer would block the start forever, and a device like /dev/zero never
    // ends: a ConfigMap key is always a regular file (behind symbolic links, which stat follows).
    if (!stat.isFile()) return { ok: false, reason: `cannot read: it is ${kindOf(stat)}, not a regular file` };
    if (stat.size > MAX_FILE_BYTES) return { ok: false, reason: `cannot read: ${stat.size} bytes is over the ${MAX_FILE_BYTES}-byte limit` };
    return { ok: true, text: readFileSync(path, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    return { ok: false, reason: REASONS[code] ?? `cannot read: ${withoutPath(error as NodeJS.ErrnoException)}` };
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
