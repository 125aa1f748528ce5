/**
 * The long-running router's inputs: the environment, the env file and every list file it names,
 * read and validated as a whole, with a hash that says whether anything changed since the last
 * read. Pure apart from the injected `readFile`.
 */
import { createHash } from 'node:crypto';
import { type Config, type Environment, type ReadFile, VARIABLES, parseConfig, withEnvFile } from '../config/config.js';
import { type Problem, type Result, exitCodeFor } from '../problem.js';

/** Variables whose value is the path of a file the router reads and follows. */
export const FILE_VARIABLES = ['EGRESS_DESTINATION_FILE', 'EGRESS_HTTP_PROXY_DESTINATION_FILE', 'EGRESS_DNS_PROXY_DESTINATION_FILE'] as const;

export interface Inputs<T = Config> {
  config: T;
  /** The environment after the env file was applied, for the parts that parse their own variables. */
  env: Environment;
  /** Short hex digest of every variable and file that went into `config`. */
  hash: string;
}

export interface InputsRead<T = Config> {
  /** Every file this configuration depends on, whether or not it could be read: watched for changes. */
  files: string[];
  result: Result<Inputs<T>>;
}

const isSet = (value: string | undefined): value is string => value !== undefined && value !== '';

/**
 * Reads everything once. `parse` defaults to the router's own parseConfig; the proxy containers
 * pass theirs.
 */
export function readInputs<T = Config>(
  env: Environment,
  readFile: ReadFile,
  parse: (env: Environment, readFile: ReadFile) => Result<T> = parseConfig as unknown as (env: Environment, readFile: ReadFile) => Result<T>,
): InputsRead<T> {
  const contents = new Map<string, string>();
  const recordingRead: ReadFile = (path) => {
    const read = readFile(path);
    contents.set(path, read.ok ? read.text : `unreadable: ${read.reason}`);
    return read;
  };
  const files: string[] = [];
  if (isSet(env.EGRESS_ROUTER_ENV_FILE)) files.push(env.EGRESS_ROUTER_ENV_FILE);
  const merged = withEnvFile(env, recordingRead);
  const effective = merged.ok ? merged.value : env;
  for (const name of FILE_VARIABLES) {
    const path = effective[name];
    if (isSet(path)) files.push(path);
  }
  if (!merged.ok) return { files, result: merged };
  const parsed = parse(merged.value, recordingRead);
  if (!parsed.ok) return { files, result: parsed };
  return { files, result: { ok: true, value: { config: parsed.value, env: merged.value, hash: hashOf(merged.value, contents) } } };
}

function hashOf(env: Environment, contents: Map<string, string>): string {
  const hash = createHash('sha256');
  for (const name of [...VARIABLES].sort()) hash.update(`${name}=${env[name] ?? ''}\0`);
  for (const [path, text] of [...contents].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(`${path}\0${text}\0`);
  return hash.digest('hex').slice(0, 16);
}

/**
 * The inputs a process starts with: validated, or their problems printed and the exit code to end
 * with (a process that cannot start on its configuration changes nothing).
 */
export function startInputs<T>(
  env: Environment,
  readFile: ReadFile,
  parse: (env: Environment, readFile: ReadFile) => Result<T>,
  output: { problems: (problems: readonly Problem[]) => void },
): Inputs<T> | number {
  const read = readInputs(env, readFile, parse);
  if (read.result.ok) return read.result.value;
  output.problems(read.result.problems);
  return exitCodeFor(read.result.problems);
}

/** The problems of an invalid reload, for the log: one line each, as at start-up. */
export function describeProblems(problems: readonly Problem[]): string[] {
  return problems.map((p) => (p.where ? `${p.where}: ${p.message}` : p.message));
}
