/**
 * The one place that runs programs. Everything that reads or changes the system goes through
 * `runCommand`, so that logs, errors and dry runs see every command the same way.
 */
import { execa } from 'execa';

export interface CommandResult {
  ok: boolean;
  stdout: string;
  /** The command's complaint, or why it could not start, as one line. */
  error: string;
  /** Everything the command wrote on stderr. */
  stderr: string;
}

/** Runs a command to completion; never throws. */
export async function runCommand(argv: readonly string[], input?: string): Promise<CommandResult> {
  const [file, ...args] = argv;
  const result = await execa(file!, args, {
    input,
    reject: false,
    stripFinalNewline: true,
    // Stable, parseable messages whatever the container's locale.
    env: { LC_ALL: 'C' },
  });
  if (!result.failed) return { ok: true, stdout: result.stdout, error: '', stderr: result.stderr };
  const stderr = result.stderr.trim();
  const detail = stderr
    ? // nft underlines the refused rule with a line of carets, which says nothing on one line.
      stderr.split('\n').filter((l) => l.trim() !== '' && !/^\s*\^+\s*$/.test(l)).slice(0, 3).join('; ')
    : result.code === 'ENOENT'
      ? 'command not found'
      : result.signal
        ? `killed by ${result.signal}`
        : `exit code ${result.exitCode}`;
  return { ok: false, stdout: result.stdout, error: detail, stderr: result.stderr };
}

/** Shell-style quoting for printing commands, so a dry run can be pasted into a shell. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Starts a command without waiting for it: it outlives a short-lived process only as long as
 * the container does. `onError` hears about a command that could not start.
 */
export function startDetached(argv: readonly string[], onError: (message: string) => void): void {
  const [file, ...args] = argv;
  const subprocess = execa(file!, args, { stdio: 'ignore', detached: true, reject: false });
  subprocess.unref();
  void subprocess.then((result) => {
    if (result.failed && result.code === 'ENOENT') onError('command not found');
  });
}
