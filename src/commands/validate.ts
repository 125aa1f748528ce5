/**
 * `egress-router validate [FILE|-]`: checks a destination list before it goes into a ConfigMap.
 * Without FILE it checks the list the environment names (EGRESS_DESTINATION or
 * EGRESS_DESTINATION_FILE), else standard input. With EGRESS_SOURCE set, rules must match its family.
 */
import { parseInterfaceAddress } from '../config/address.js';
import type { Environment, FileReadResult } from '../config/config.js';
import { describeRules, isHostName, parseDestinations } from '../config/destinations.js';
import { type Problem, pathName, problem, quote } from '../problem.js';
import { readStdin, readTextFile } from '../system/files.js';
import type { Output } from '../entrypoint.js';
import { parseProxyRules, rulesReport } from '../http-proxy/rules.js';

/** Where the list comes from: how messages name it, and its text (or why it cannot be read). */
function readList(file: string | undefined, env: Environment): { origin: string; readError: string; read: FileReadResult } {
  if (file === '-' || (file === undefined && !env.EGRESS_DESTINATION && !env.EGRESS_DESTINATION_FILE)) {
    return { origin: 'stdin', readError: 'stdin', read: readStdin() };
  }
  if (file !== undefined) return { origin: pathName(file), readError: quote(file), read: readTextFile(file) };
  if (env.EGRESS_DESTINATION_FILE) {
    const path = env.EGRESS_DESTINATION_FILE;
    return { origin: `EGRESS_DESTINATION_FILE ${pathName(path)}`, readError: `EGRESS_DESTINATION_FILE ${quote(path)}`, read: readTextFile(path) };
  }
  return { origin: 'EGRESS_DESTINATION', readError: 'EGRESS_DESTINATION', read: { ok: true, text: env.EGRESS_DESTINATION! } };
}

export function runValidate(file: string | undefined, env: Environment, output: Output): number {
  const { origin, readError, read } = readList(file, env);
  if (!read.ok) {
    output.problems([problem('config', readError, read.reason)]);
    return 1;
  }
  const problems: Problem[] = [];
  let family: 4 | 6 | undefined;
  if (env.EGRESS_SOURCE) {
    const source = parseInterfaceAddress(env.EGRESS_SOURCE.trim());
    if (source.ok) family = source.address.family;
    else problems.push(problem('config', 'EGRESS_SOURCE', `invalid value ${quote(env.EGRESS_SOURCE)}: ${source.reason}`));
  }
  const { list, problems: listProblems } = parseDestinations(read.text, { origin, family });
  problems.push(...listProblems);
  if (problems.length === 0 && list.redirects.length === 0 && !list.fallback) {
    problems.push(problem('config', origin, 'has no rules, only comments or blank lines'));
  }
  if (problems.length > 0) {
    output.problems(problems);
    return 1;
  }
  const lines = describeRules(list);
  const count = `${list.redirects.length} redirect${list.redirects.length === 1 ? '' : 's'}`;
  const named = list.redirects.filter((r) => isHostName(r.target)).length + (list.fallback && isHostName(list.fallback.target) ? 1 : 0);
  const familyText = list.family === undefined ? 'no addresses' : `IPv${list.family}`;
  const names = named === 0 ? '' : `, ${named} destination${named === 1 ? '' : 's'} by name (resolved when the router runs)`;
  lines.push(`${origin}: OK, ${count}${list.fallback ? ' and a fallback' : ', no fallback (other ports are refused)'}, ${familyText}${names}`);
  output.out(`${lines.join('\n')}\n`);
  return 0;
}

/**
 * `egress-router validate --http-proxy FILE|-`: checks an HTTP proxy access list
 * (EGRESS_HTTP_PROXY_DESTINATION's grammar) and prints the rules understood, or every error.
 */
export function runValidateHttpProxy(file: string, output: Output): number {
  const stdin = file === '-';
  const read = stdin ? readStdin() : readTextFile(file);
  if (!read.ok) {
    output.problems([problem('config', stdin ? 'stdin' : quote(file), read.reason)]);
    return 1;
  }
  const origin = stdin ? 'stdin' : pathName(file);
  const parsed = parseProxyRules(read.text, origin);
  if (parsed.problems.length > 0) {
    output.problems(parsed.problems);
    return 1;
  }
  output.out(rulesReport(origin, parsed.rules, parsed.warnings));
  return 0;
}
