/**
 * Applies a plan: the only module that changes the system. Steps run in order; the first failure
 * stops the run with a problem that names the step. A failed iptables load is converged back to
 * the chains the router had before, because iptables-restore commits table by table.
 */
import { writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { iptablesCommands, renderIptablesConverge } from '../firewall/iptables.js';
import { type FirewallStep, type Plan, type Step, sysctlPath } from '../plan/plan.js';
import { type Problem, problem } from '../problem.js';
import { type CommandResult, runCommand, shellQuote } from './commands.js';
import { readIptables } from './probe.js';
import { type RunStep, batchComplaint, batchGroups, failedBatchLine, ipBatch, isIpStep } from '../plan/ip-batch.js';

function describe(step: Step): string {
  if (step.kind === 'sysctl') return `sysctl -w ${step.key}=${step.value}`;
  return shellQuote(step.argv);
}

function writeSysctl(key: string, value: string): CommandResult {
  try {
    writeFileSync(sysctlPath(key), value);
    return { ok: true, stdout: '', error: '', stderr: '' };
  } catch (error) {
    return { ok: false, stdout: '', error: (error as Error).message, stderr: '' };
  }
}

async function rollBackIptables(step: FirewallStep, log: Logger): Promise<string> {
  if (!step.before) return '';
  const family = step.argv[0] === 'ip6tables-restore' ? 6 : 4;
  const now = await readIptables(family);
  if (!now.ok) return `; could not read the chains back to undo the partial load: ${now.problems[0]!.message}`;
  const undo = renderIptablesConverge(now.value, step.before);
  const result = await runCommand([iptablesCommands(family).restore, '--noflush'], undo);
  log.warn({ step: step.label, rolledBack: result.ok }, 'partial iptables load converged back to the previous chains');
  return result.ok ? '; the chains were restored to their previous state' : `; undoing the partial load also failed: ${result.error}`;
}

const elapsed = (started: number): number => Math.round((performance.now() - started) * 10) / 10;

/** Runs consecutive ip steps as batches; returns the problem of the step that failed, if any. */
async function applyIpSteps(steps: RunStep[], log: Logger): Promise<Problem | undefined> {
  for (const group of batchGroups(steps)) {
    const batch = ipBatch(group);
    const started = performance.now();
    const result = await runCommand(batch.argv, batch.input);
    const ms = elapsed(started);
    const failedAt = result.ok ? group.length : (failedBatchLine(result.stderr) ?? 0);
    for (const step of group.slice(0, failedAt)) {
      log.info({ step: step.label, command: describe(step), batch: batch.argv.join(' '), ms }, `applied ${step.label}`);
    }
    if (!result.ok) {
      const step = group[failedAt] ?? group[0]!;
      const complaint = batchComplaint(result.stderr) || result.error;
      return problem('apply', `step '${step.label}'`, `${describe(step)} failed: ${complaint}`);
    }
  }
  return undefined;
}

/** Runs every step; returns the problem that stopped it, if any. */
export async function applyPlan(plan: Plan, log: Logger): Promise<Problem | undefined> {
  const steps = plan.steps;
  for (let index = 0; index < steps.length; index++) {
    const step = steps[index]!;
    if (isIpStep(step)) {
      let end = index;
      while (end + 1 < steps.length && isIpStep(steps[end + 1]!)) end++;
      const failure = await applyIpSteps(steps.slice(index, end + 1) as RunStep[], log);
      if (failure) return failure;
      index = end;
      continue;
    }
    const command = describe(step);
    const started = performance.now();
    const result = step.kind === 'sysctl' ? writeSysctl(step.key, step.value) : await runCommand(step.argv, step.input);
    const ms = elapsed(started);
    if (!result.ok) {
      let detail = `${step.kind === 'firewall' ? step.argv.join(' ') : command} failed: ${result.error}`;
      if (step.kind === 'firewall' && step.backend === 'iptables') detail += await rollBackIptables(step, log);
      return problem('apply', `step '${step.label}'`, detail);
    }
    log.info({ step: step.label, command: step.kind === 'firewall' ? step.argv.join(' ') : command, ms }, `applied ${step.label}`);
  }
  return undefined;
}

/** Prints the plan as a shell script instead of running it. */
export function renderDryRun(plan: Plan): string {
  const out = ['# egress-router dry run: these commands would run, in this order; nothing was changed'];
  if (plan.steps.length === 0) out.push('# the network and firewall are already as configured');
  for (const step of plan.steps) {
    out.push(`# ${step.label}`);
    if (step.kind === 'run' || step.kind === 'sysctl') out.push(describe(step));
    else out.push(`${shellQuote(step.argv)} <<'RULESET'`, step.input.trimEnd(), 'RULESET');
  }
  for (const argv of plan.announce) out.push(`# ${argv[0] === 'arping' ? 'gratuitous ARP' : 'unsolicited neighbour advertisement'}, not waited for`, `${shellQuote(argv)} &`);
  return `${out.join('\n')}\n`;
}
