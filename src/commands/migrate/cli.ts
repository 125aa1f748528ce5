/** `egress-router migrate`: placeholder until the migration issue lands. */
import type { Output } from '../../entrypoint.js';
import { problem } from '../../problem.js';

export async function runMigrate(_args: string[], output: Output): Promise<number> {
  output.problems([problem('config', 'migrate', 'not implemented yet')]);
  return 1;
}
