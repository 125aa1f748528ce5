/**
 * `egress-router validate --dns-proxy [FILE|-]`: checks a DNS proxy list before it goes into a
 * ConfigMap. Without FILE it checks the list the environment names (EGRESS_DNS_PROXY_DESTINATION
 * or EGRESS_DNS_PROXY_DESTINATION_FILE), else standard input.
 */
import type { Environment } from '../config/config.js';
import { describeProxyRules, summarizeProxyList } from '../dns-proxy/destinations.js';
import { loadProxyList, readProxyList } from '../dns-proxy/settings.js';
import type { Output } from '../entrypoint.js';
import { pathName, problem, quote } from '../problem.js';
import { readStdin, readTextFile } from '../system/files.js';

export function runValidateDnsProxy(file: string | undefined, env: Environment, output: Output): number {
  let source: { origin: string; text: string };
  const fromEnvironment = file === undefined && (env.EGRESS_DNS_PROXY_DESTINATION || env.EGRESS_DNS_PROXY_DESTINATION_FILE);
  if (fromEnvironment) {
    const read = readProxyList(env, readTextFile);
    if (!read.ok) {
      output.problems(read.problems);
      return 1;
    }
    source = read.value;
  } else {
    const stdin = file === undefined || file === '-';
    const read = stdin ? readStdin() : readTextFile(file);
    if (!read.ok) {
      output.problems([problem('config', stdin ? 'stdin' : quote(file), read.reason)]);
      return 1;
    }
    source = { origin: stdin ? 'stdin' : pathName(file), text: read.text };
  }
  const list = loadProxyList(source.origin, source.text, undefined);
  if (!list.ok) {
    output.problems(list.problems);
    return 1;
  }
  output.out(`${[...describeProxyRules(list.value), summarizeProxyList(source.origin, list.value)].join('\n')}\n`);
  return 0;
}
