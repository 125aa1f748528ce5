/** Waiting for a child process (a router, an echo server) to say it is ready on stdout. */
import type { ResultPromise } from 'execa';

/**
 * Resolves once the child's stdout contains `marker`, with a function that returns everything
 * it printed so far and later. Rejects if the child exits first or after `timeoutMs`.
 */
export function waitForOutput(child: ResultPromise, marker: string, what: string, timeoutMs = 10_000): Promise<() => string> {
  let output = '';
  const printed = () => output;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no "${marker}" within ${timeoutMs / 1000} s`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(marker)) {
        clearTimeout(timer);
        resolve(printed);
      }
    });
    void child.then((result) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${result.exitCode}) before "${marker}": ${result.stderr}`));
    });
  });
}
