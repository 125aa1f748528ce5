/**
 * `egress-router migrate`: reads legacy manifests, prints the converted ones on stdout and a
 * summary on stderr. Loaded lazily by the CLI, so the pod entrypoint never loads the YAML library.
 */
import type { FileReadResult } from '../../config/config.js';
import type { Output } from '../../entrypoint.js';
import { problem } from '../../problem.js';
import { readStdin, readTextFile } from '../../system/files.js';
import { MIGRATE_USAGE, parseMigrateArguments } from './arguments.js';
import { readInputs } from './documents.js';
import { migrate } from './migrate.js';
import { renderDocuments } from './output.js';
import { Summary } from './summary.js';

/** Where input comes from; tests give their own standard input. */
export interface InputSources {
  readFile: (path: string) => FileReadResult;
  readStdin: () => FileReadResult;
}

const SYSTEM_INPUT: InputSources = { readFile: readTextFile, readStdin };

export async function runMigrate(args: string[], output: Output, input: InputSources = SYSTEM_INPUT): Promise<number> {
  const parsed = parseMigrateArguments(args);
  if (parsed.kind === 'help') {
    output.out(MIGRATE_USAGE);
    return 0;
  }
  if (parsed.kind === 'usage-error') {
    output.problems([problem('config', 'migrate', parsed.message)]);
    return 1;
  }
  const read = readInputs(parsed.files, input.readFile, input.readStdin);
  const summary = new Summary();
  summary.inputProblems(read.problems);
  const documents = migrate(read.objects, { target: parsed.target, image: parsed.image }, summary);
  if (documents.length > 0) output.out(renderDocuments(documents));
  const imageNote = parsed.target === 'multus' && parsed.imageIsDefault ? [`router image ${parsed.image}, the default; choose another with --image`] : [];
  output.problems(summary.lines(imageNote));
  return summary.exitCode;
}
