// Runs one command and times it from spawn to exit, from inside the namespace it runs in, so
// that `ip netns exec` and the benchmark's own process start are not counted. The command gets
// this process's environment. Prints one JSON line: {"ms":N,"exitCode":N,"stdout":"...","stderr":"..."}.
// Usage: node timed-run.mjs COMMAND [ARGS...]
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
const started = performance.now();
const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
let stdout = '';
let stderr = '';
child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
child.on('error', (error) => {
  process.stdout.write(`${JSON.stringify({ ms: performance.now() - started, exitCode: null, stdout, stderr: error.message })}\n`);
});
child.on('exit', (exitCode, signal) => {
  const ms = performance.now() - started;
  // The pipes may still hold the last lines: wait for them before reporting.
  child.on('close', () => process.stdout.write(`${JSON.stringify({ ms, exitCode: exitCode ?? signal, stdout, stderr })}\n`));
});
