/**
 * New-connection rate measured by C programs, for the DNS proxy section: wrk sends one request
 * per connection (`Connection: close`) to haproxy answering every request itself with the
 * address it saw the connection come from. Node's load generator and echo servers spent about
 * as much CPU per connection as the proxies under test, so on a 2-core machine they, not the
 * proxies, set every contender's pace; these two spend far less.
 *
 * The same load run in the servers' own namespace, with no proxy and no router in between, is
 * the most any contender can show on this machine: the section reports it beside them.
 */
import { execa, type ResultPromise } from 'execa';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WrkLoad {
  seconds: number;
  threads: number;
  connections: number;
}

export interface WrkResult {
  /** Answered requests per second: each on a connection of its own. */
  rate: number;
  requests: number;
  /** Socket errors and answers other than 200. */
  failed: number;
}

const inNs = (ns: string, argv: string[]) => ['netns', 'exec', ns, ...argv];

/** haproxy answering on `addresses`:`port`, in namespace `ns`, with `src` as the body. */
export class Responder {
  private constructor(private readonly child: ResultPromise) {}

  static async start(ns: string, addresses: readonly string[], port: number, dir: string): Promise<Responder> {
    const config = join(dir, 'responder.cfg');
    writeFileSync(
      config,
      [
        'global',
        '    maxconn 4000',
        'defaults',
        '    mode http',
        '    timeout client 10s',
        '    timeout server 10s',
        '    timeout connect 5s',
        'frontend responder',
        ...addresses.map((a) => `    bind ${a}:${port}`),
        // Closed with a reset once answered: no TIME_WAIT here. With tens of thousands of
        // connections from the one source address, a new connection's SYN would otherwise meet
        // the TIME_WAIT of an earlier one with the same ports, and rates collapse round by round.
        '    option nolinger',
        '    http-request return status 200 content-type text/plain lf-string "%[src]\\n"',
        '',
      ].join('\n'),
    );
    const child = execa('ip', inNs(ns, ['haproxy', '-db', '-f', config]), { reject: false, all: true });
    // haproxy says nothing when it starts well: ready once it answers.
    for (let i = 0; i < 50; i++) {
      const probe = await execa('ip', inNs(ns, ['curl', '-s', '--max-time', '1', `http://${addresses[0]}:${port}/`]), { reject: false });
      if (probe.exitCode === 0 && probe.stdout.trim() !== '') return new Responder(child);
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    child.kill('SIGKILL');
    throw new Error(`the responder did not answer: ${(await child).all}`);
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.child;
  }
}

/** The address the responder saw, asked once through `url` from namespace `ns`. */
export async function seenSource(ns: string, url: string): Promise<string> {
  const probe = await execa('ip', inNs(ns, ['curl', '-s', '--max-time', '2', url]), { reject: false });
  return probe.stdout.trim();
}

/** What wrk printed: its request count and rate, and the failures it counted; undefined if no run. */
export function parseWrkOutput(stdout: string): WrkResult | undefined {
  const number = (pattern: RegExp) => Number(pattern.exec(stdout)?.[1] ?? 0);
  const requests = number(/(\d+) requests in/);
  if (requests === 0) return undefined;
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const socketErrors = errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return { rate: number(/Requests\/sec:\s+([\d.]+)/), requests, failed: socketErrors + number(/Non-2xx or 3xx responses: (\d+)/) };
}

/** One wrk run from namespace `ns` against `url`, a new connection per request. */
export async function wrkRate(ns: string, url: string, load: WrkLoad): Promise<WrkResult> {
  const result = await execa(
    'ip',
    inNs(ns, ['wrk', `-t${load.threads}`, `-c${load.connections}`, `-d${load.seconds}s`, '--timeout', '2s', '-H', 'Connection: close', url]),
    { reject: false, timeout: (load.seconds + 30) * 1000 },
  );
  const parsed = result.exitCode === 0 ? parseWrkOutput(result.stdout) : undefined;
  if (!parsed) throw new Error(`wrk ${url}: ${result.stderr || result.stdout}`);
  return parsed;
}
