/**
 * Consecutive `ip` steps run as one `ip -batch -` process: a restart-free pod start is a dozen
 * route, rule and address commands, and one exec instead of a dozen is most of the start-up time
 * they cost. `ip` stops at the first failing line and names it, so the failure still maps to
 * exactly one step.
 */
import type { Step } from './plan.js';

export type RunStep = Extract<Step, { kind: 'run' }>;

export const isIpStep = (step: Step): step is RunStep => step.kind === 'run' && step.argv[0] === 'ip' && step.input === undefined;

const familyFlag = (step: RunStep): string | undefined => (step.argv[1] === '-4' || step.argv[1] === '-6' ? step.argv[1] : undefined);

/** Splits consecutive ip steps into runs that can share one batch: one family flag each. */
export function batchGroups(steps: RunStep[]): RunStep[][] {
  const groups: RunStep[][] = [];
  let current: RunStep[] = [];
  let family: string | undefined;
  for (const step of steps) {
    const flag = familyFlag(step);
    if (flag && family && flag !== family) {
      groups.push(current);
      current = [];
      family = undefined;
    }
    family ??= flag;
    current.push(step);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** The batch command for a group: `ip [-4|-6] -batch -`, one line per step. */
export function ipBatch(group: RunStep[]): { argv: string[]; input: string } {
  const flag = group.map(familyFlag).find((f) => f !== undefined);
  const lines = group.map((step) => step.argv.slice(familyFlag(step) ? 2 : 1).join(' '));
  return { argv: ['ip', ...(flag ? [flag] : []), '-batch', '-'], input: `${lines.join('\n')}\n` };
}

/** Which line of the batch failed (0-based), from ip's `Command failed -:N`; undefined if none says. */
export function failedBatchLine(stderr: string): number | undefined {
  const match = /Command failed -:(\d+)/.exec(stderr);
  return match ? Number(match[1]) - 1 : undefined;
}

/** ip's complaint without its batch bookkeeping line. */
export function batchComplaint(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^Command failed -:\d+$/.test(line.trim()))
    .slice(0, 3)
    .join('; ');
}
