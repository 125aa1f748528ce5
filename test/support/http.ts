/** Plain HTTP requests from inside a test namespace, with curl, for the status endpoint. */
import { execa } from 'execa';

export interface HttpAnswer {
  /** 0 when no answer came (refused, unreachable, timed out). */
  status: number;
  body: string;
  /** curl's exit code: 7 refused, 28 timed out, ... */
  curlExit: number;
}

export async function httpGet(ns: string, url: string, timeoutSeconds = 2): Promise<HttpAnswer> {
  const result = await execa('ip', ['netns', 'exec', ns, 'curl', '-sS', '-m', String(timeoutSeconds), '-o', '-', '-w', '\n%{http_code}', url], { reject: false });
  const lines = result.stdout.split('\n');
  const status = Number(lines.pop() ?? '0');
  return { status, body: lines.join('\n').replace(/\n$/, ''), curlExit: result.exitCode ?? -1 };
}

/** The value of one sample of a Prometheus text exposition, e.g. `name{label="x"}`; undefined if absent. */
export function metricValue(exposition: string, sample: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}
