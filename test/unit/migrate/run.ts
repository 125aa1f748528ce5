/** Runs `egress-router migrate` in-process and captures what it prints, as the CLI would print it. */
import { type InputSources, runMigrate } from '../../../src/commands/migrate/cli.js';
import { formatProblem } from '../../../src/problem.js';
import { readTextFile } from '../../../src/system/files.js';

export interface MigrateRun {
  code: number;
  stdout: string;
  stderr: string;
}

export const FIXTURES = 'test/fixtures/migrate';

/** Fixture paths as the golden files name them: relative to the repository, where tests run. */
export const input = (name: string): string => `${FIXTURES}/input/${name}`;

export async function migrate(args: string[], stdin = ''): Promise<MigrateRun> {
  let stdout = '';
  let stderr = '';
  const sources: InputSources = { readFile: readTextFile, readStdin: () => ({ ok: true, text: stdin }) };
  const code = await runMigrate(
    args,
    {
      out: (text) => (stdout += text),
      problems: (problems) => {
        for (const p of problems) stderr += `egress-router: ${formatProblem(p)}\n`;
      },
    },
    sources,
  );
  return { code, stdout, stderr };
}
