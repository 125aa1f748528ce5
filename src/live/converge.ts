/**
 * One reconciliation of the pod's network and firewall with the desired configuration, as the
 * long-running router does it on every trigger.
 *
 * - Partial: the network settings are as last applied, so only the redirects can differ; the
 *   difference goes to the kernel as one transaction of map elements (or single rules for
 *   iptables). Nothing is probed, and unchanged rules, with their connections, are not touched.
 * - Full: probe the namespace, plan everything from what is there, apply what is missing. The
 *   periodic safety net and any change of source, gateway, interfaces or backend take this path;
 *   it replaces the firewall only when the ruleset changed or the kernel lost the router's table.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Ruleset } from '../firewall/ruleset.js';
import { iptablesCommands } from '../firewall/iptables.js';
import { changedRules, renderIptablesUpdate, renderNftablesElements, renderNftablesUpdate } from '../firewall/update.js';
import { buildPlan } from '../plan/build.js';
import type { Observed } from '../plan/observed.js';
import { planReannouncements } from '../plan/announce.js';
import { type Problem, problem } from '../problem.js';
import { applyPlan } from '../system/apply.js';
import { runCommand } from '../system/commands.js';
import { firewallPresent } from '../system/firewall-state.js';
import { probe } from '../system/probe.js';
import type { SyncKind } from './runner.js';

export interface AppliedState {
  config: Config;
  ruleset: Ruleset | undefined;
  backend: Observed['firewallBackend'];
}

export type ConvergeResult =
  /** `announce` and `reannounce`: the commands to announce the source with, now and 2 s later, if it (re)appeared. */
  | { ok: true; applied: AppliedState; changes: number; announce: string[][]; reannounce: string[][] }
  | { ok: false; problems: Problem[]; applied: AppliedState | undefined };

/** Everything but the redirects: a change here needs a full sync. */
export function networkKey(config: Config): string {
  const { source, gateway, family, egressInterface, clusterInterface, firewall, mode, debug } = config;
  return JSON.stringify([source, gateway, family, egressInterface, clusterInterface, firewall, mode, debug]);
}

/**
 * The transaction that turns the applied ruleset into the desired one, touching only what
 * changed: empty input when nothing did, undefined when only a whole replacement will do.
 */
function renderFirewallUpdate(
  before: Ruleset | undefined,
  after: Ruleset | undefined,
  backend: Observed['firewallBackend'],
): { argv: string[]; input: string; changes: number } | undefined {
  if (!before || !after) return before === after ? { argv: [], input: '', changes: 0 } : undefined;
  const input = backend === 'nftables' ? renderNftablesUpdate(before, after) : renderIptablesUpdate(before, after);
  if (input === undefined) return undefined;
  const argv = backend === 'nftables' ? ['nft', '-f', '-'] : [iptablesCommands(after.family).restore, '--noflush'];
  return { argv, input, changes: input === '' ? 0 : changedRules(before, after).length || 1 };
}

async function partial(applied: AppliedState, desired: Config, ruleset: Ruleset | undefined, log: Logger): Promise<ConvergeResult | undefined> {
  const update = renderFirewallUpdate(applied.ruleset, ruleset, applied.backend);
  if (!update) return undefined;
  if (update.input === '') return { ok: true, applied: { ...applied, config: desired, ruleset }, changes: 0, announce: [], reannounce: [] };
  const started = performance.now();
  const result = await runCommand(update.argv, update.input);
  if (!result.ok) {
    // The transaction either landed whole or not at all; a full sync re-reads the kernel's state.
    log.warn({ command: update.argv.join(' '), error: result.error }, 'partial firewall update refused; falling back to a full sync');
    return undefined;
  }
  log.info({ step: 'firewall update', backend: applied.backend, changes: update.changes, ms: Math.round(performance.now() - started) }, 'applied the changed redirects');
  return { ok: true, applied: { config: desired, ruleset, backend: applied.backend }, changes: update.changes, announce: [], reannounce: [] };
}

export async function converge(
  desired: Config,
  ruleset: Ruleset | undefined,
  applied: AppliedState | undefined,
  kind: SyncKind,
  log: Logger,
): Promise<ConvergeResult> {
  const sameNetwork = applied !== undefined && networkKey(applied.config) === networkKey(desired);
  if (kind === 'partial' && sameNetwork) {
    const done = await partial(applied, desired, ruleset, log);
    if (done) return done;
  }
  const observed = await probe(desired);
  if (!observed.ok) return { ok: false, problems: observed.problems, applied };
  const built = buildPlan(desired, observed.value, ruleset);
  if (!built.ok) return { ok: false, problems: built.problems, applied };
  const plan = built.value;
  const backend = observed.value.firewallBackend;
  // The safety net keeps a firewall that is already right: replacing 100,000 map elements every
  // minute would cost a second of CPU and reset every counter for nothing.
  const firewallUnchanged = sameNetwork && applied.backend === backend && renderFirewallUpdate(applied.ruleset, ruleset, backend)?.input === '';
  if (firewallUnchanged && (await firewallPresent(backend, desired.family))) {
    plan.steps = plan.steps.filter((step) => step.kind !== 'firewall');
  }
  const failure = await applyPlan(plan, log);
  if (failure) return { ok: false, problems: [failure], applied: undefined };
  const moved = !sameNetwork || plan.steps.some((s) => s.label === 'source address');
  return {
    ok: true,
    applied: { config: desired, ruleset, backend },
    changes: plan.steps.length,
    announce: moved ? plan.announce : [],
    reannounce: moved ? planReannouncements(desired, observed.value.egress) : [],
  };
}

/**
 * The DNS proxy container's kernel path: the init container made the network and the table; only
 * the redirect elements are this process's. A full sync (the first, the safety net) replaces every
 * element in one transaction; a partial one changes the elements that differ.
 */
export async function convergeElements(
  desired: Config,
  ruleset: Ruleset | undefined,
  applied: AppliedState | undefined,
  kind: SyncKind,
  log: Logger,
): Promise<ConvergeResult> {
  const next: AppliedState = { config: desired, ruleset, backend: 'nftables' };
  if (!ruleset) return { ok: true, applied: next, changes: 0, announce: [], reannounce: [] };
  let input = kind === 'partial' && applied?.ruleset ? renderNftablesUpdate(applied.ruleset, ruleset) : undefined;
  input ??= renderNftablesElements(ruleset);
  if (input === '') return { ok: true, applied: next, changes: 0, announce: [], reannounce: [] };
  const result = await runCommand(['nft', '-f', '-'], input);
  if (!result.ok) return { ok: false, problems: [problem('apply', 'step \'redirect elements\'', `nft -f - failed: ${result.error}`)], applied: undefined };
  const changes = applied?.ruleset ? changedRules(applied.ruleset, ruleset).length : ruleset.redirects.length;
  log.info({ step: 'redirect elements', changes }, 'applied the redirects');
  return { ok: true, applied: next, changes, announce: [], reannounce: [] };
}
