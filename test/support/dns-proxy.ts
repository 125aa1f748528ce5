/**
 * The DNS proxy container as tests and the benchmark run it: the built CLI with no command and
 * only the proxy's variables (the legacy container's environment), in the router pod's
 * namespace, as an unprivileged user without capabilities unless told otherwise.
 */
import { execa, type ResultPromise } from 'execa';
import { ENTRY } from './topology.js';
import { waitForOutput } from './output.js';

/** nobody, no capabilities in any set, no privilege gained through exec: a locked-down container. */
export const UNPRIVILEGED = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--no-new-privs'];

export interface RunningProxy {
  child: ResultPromise;
  /** Its pid (ip netns exec and setpriv exec in place). */
  pid: number;
  /** Everything it logged so far. */
  output(): string;
  /** Its log lines, parsed. */
  logs(): { msg: string; level: number; [field: string]: unknown }[];
  /** Resolves once a log message containing `text` appears; rejects after `timeoutMs`. */
  waitForLog(text: string, timeoutMs: number): Promise<number>;
  /** SIGTERM, and its exit code and how long it took to exit. */
  stop(): Promise<{ exitCode: number | undefined; ms: number }>;
}

export async function startDnsProxy(
  ns: string,
  env: Record<string, string>,
  options: { wrap?: string[]; entry?: string; args?: string[] } = {},
): Promise<RunningProxy> {
  const command = [...(options.wrap ?? UNPRIVILEGED), process.execPath, options.entry ?? ENTRY, ...(options.args ?? [])];
  const child = execa('ip', ['netns', 'exec', ns, ...command], { env: { PATH: process.env.PATH ?? '', ...env }, extendEnv: false, reject: false });
  const printed = await waitForOutput(child, '"dns proxy ready"', 'dns proxy', 20_000).catch(async (error: Error) => {
    child.kill('SIGKILL');
    await child;
    throw error;
  });
  const logs = () =>
    printed()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; level: number });
  return {
    child,
    pid: child.pid!,
    output: printed,
    logs,
    async waitForLog(text, timeoutMs) {
      const started = performance.now();
      while (!logs().some((l) => l.msg.includes(text))) {
        if (performance.now() - started > timeoutMs) throw new Error(`dns proxy: no log "${text}" within ${timeoutMs} ms:\n${printed().slice(-3000)}`);
        if (child.exitCode !== null) throw new Error(`dns proxy exited: ${printed()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return performance.now() - started;
    },
    async stop() {
      const started = performance.now();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const result = await child;
      clearTimeout(timer);
      return { exitCode: result.exitCode, ms: performance.now() - started };
    },
  };
}
