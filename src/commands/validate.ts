/**
 * `egress-router validate [FILE|-]`: checks a destination list before it goes into a ConfigMap.
 * Without FILE it checks the list the environment names (EGRESS_DESTINATION or
 * EGRESS_DESTINATION_FILE), else standard input. With EGRESS_SOURCE set, rules must match its family.
 */
import { parseInterfaceAddress } from '../config/address.js';
import type { Environment } from '../config/config.js';
import { describeRules, parseDestinations } from '../config/destinations.js';
import { type Problem, problem, quote } from '../problem.js';
import { readStdin, readTextFile } from '../system/files.js';
import type { Output } from '../entrypoint.js';

export function runValidate(file: string | undefined, env: Environment, output: Output): number {
  let origin: string;
  let read;
  if (file === '-' || (file === undefined && !env.EGRESS_DESTINATION && !env.EGRESS_DESTINATION_FILE)) {
    origin = 'stdin';
    read = readStdin();
  } else if (file !== undefined) {
    origin = file;
    read = readTextFile(file);
  } else if (env.EGRESS_DESTINATION_FILE) {
    origin = `EGRESS_DESTINATION_FILE ${env.EGRESS_DESTINATION_FILE}`;
    read = readTextFile(env.EGRESS_DESTINATION_FILE);
  } else {
    origin = 'EGRESS_DESTINATION';
    read = { ok: true as const, text: env.EGRESS_DESTINATION! };
  }
  if (!read.ok) {
    output.problems([problem('config', origin === 'stdin' ? 'stdin' : quote(origin), read.reason)]);
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
  lines.push(`${origin}: OK, ${count}${list.fallback ? ' and a fallback' : ', no fallback (other ports are refused)'}, IPv${list.family}`);
  output.out(`${lines.join('\n')}\n`);
  return 0;
}
