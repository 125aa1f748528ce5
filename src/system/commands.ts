/**
 * The one place that runs programs. Everything that reads or changes the system goes through
 * `runCommand`, so that logs, errors and dry runs see every command the same way.
 */
import { spawn } from 'node:child_process';

export interface CommandResult {
  ok: boolean;
  stdout: string;
  /** The command's complaint, or why it could not start, as one line. */
  error: string;
}

/** Output beyond this is a runaway command, not a result (the bound execa applied before). */
const MAX_OUTPUT = 100 * 1024 * 1024;

interface Outcome {
  failed: boolean;
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Why the command could not start (ENOENT, ...), or that its output overflowed. */
  code?: string;
}

const stripFinalNewline = (text: string): string => (text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text);

/**
 * node:child_process itself, not execa: the router runs a dozen short commands on its way to
 * ready, and execa's work per call (about 5 ms) and its load time were a third of the start-up.
 */
function execute(file: string, args: string[], input: string | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let code: string | undefined;
    let settled = false;
    const settle = (outcome: Omit<Outcome, 'stdout' | 'stderr' | 'failed'>) => {
      if (settled) return;
      settled = true;
      const failed = outcome.code !== undefined || outcome.exitCode !== 0 || outcome.signal !== null;
      resolve({ ...outcome, failed, stdout: stripFinalNewline(stdout), stderr: stripFinalNewline(stderr) });
    };
    const child = spawn(file, args, {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      // Stable, parseable messages whatever the container's locale.
      env: { ...process.env, LC_ALL: 'C' },
    });
    const collect = (append: (chunk: string) => void) => (chunk: string) => {
      append(chunk);
      if (stdout.length + stderr.length > MAX_OUTPUT && code === undefined) {
        code = 'EMAXBUFFER';
        child.kill();
      }
    };
    child.stdout!.setEncoding('utf8').on('data', collect((chunk) => (stdout += chunk)));
    child.stderr!.setEncoding('utf8').on('data', collect((chunk) => (stderr += chunk)));
    child.on('error', (error: NodeJS.ErrnoException) => settle({ exitCode: null, signal: null, code: error.code ?? error.message }));
    child.on('close', (exitCode, signal) => settle({ exitCode, signal, code }));
    if (child.stdin) {
      // A command that fails before reading its input closes the pipe; its exit status says why.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
  });
}

/** Runs a command to completion; never throws. */
export async function runCommand(argv: readonly string[], input?: string): Promise<CommandResult> {
  const [file, ...args] = argv;
  const result = await execute(file!, args, input);
  if (!result.failed) return { ok: true, stdout: result.stdout, error: '' };
  const stderr = result.stderr.trim();
  const detail = stderr
    ? // nft underlines the refused rule with a line of carets, which says nothing on one line.
      stderr.split('\n').filter((l) => l.trim() !== '' && !/^\s*\^+\s*$/.test(l)).slice(0, 3).join('; ')
    : result.code === 'ENOENT'
      ? 'command not found'
      : result.code === 'EMAXBUFFER'
        ? `printed more than ${MAX_OUTPUT} bytes`
        : result.signal
          ? `killed by ${result.signal}`
          : `exit code ${result.exitCode}`;
  return { ok: false, stdout: result.stdout, error: detail };
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
  const subprocess = spawn(file!, args, { stdio: 'ignore', detached: true });
  subprocess.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') onError('command not found');
  });
  subprocess.unref();
}
