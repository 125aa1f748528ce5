/**
 * The pod entrypoint: configuration, then a probe of the namespace, then the plan, then (unless
 * this is a dry run) the changes, in the order the mode asks for.
 *
 *   init                 apply, exit 0
 *   legacy               the long-running router (src/live): apply, then keep the pod converged
 *                        to its configuration until SIGTERM or SIGINT, exit 0
 *   http-proxy/dns-proxy without a proxy list: network only (a proxy container does the rest);
 *                        with one: the long-running router serving the proxy too
 *   unit-test            print the ruleset, change nothing
 */
import { type Config, type Environment, longRunning, parseConfig } from './config/config.js';
import { type Ruleset, noAnswers, rulesetFor } from './firewall/ruleset.js';
import type { Logger } from 'pino';
import { namesOf } from './live/names.js';
import { podResolver } from './names/resolver.js';
import { resolveOnce } from './names/resolve-once.js';
import { createLogger } from './log.js';
import { destinationText } from './config/destinations.js';
import { buildPlan, firewallStep } from './plan/build.js';
import { type Problem, exitCodeFor } from './problem.js';
import { announce } from './system/announce.js';
import { applyPlan, renderDryRun } from './system/apply.js';
import { readTextFile } from './system/files.js';
import { probe } from './system/probe.js';
import { SignalGate } from './system/signals.js';
import { startInputs } from './live/inputs.js';

export interface Output {
  out: (text: string) => void;
  problems: (problems: readonly Problem[]) => void;
}

function printUnitTest(config: Config, output: Output): number {
  // Names are not resolved here (yet): their ports print as refusing.
  const ruleset = rulesetFor(config, noAnswers);
  // auto means nftables here: unit-test mode looks at nothing on the machine.
  if (ruleset) output.out(firewallStep(ruleset, config.firewall === 'iptables' ? 'iptables' : 'nftables').input);
  return 0;
}

export async function runEntrypoint(env: Environment, flags: { dryRun: boolean }, output: Output): Promise<number> {
  const inputs = startInputs(env, readTextFile, (merged, readFile) => parseConfig(merged, readFile, flags), output);
  if (typeof inputs === 'number') return inputs;
  const config = inputs.config;
  if (config.mode === 'unit-test') return printUnitTest(config, output);

  const gate = new SignalGate();
  const log = await createLogger(config.debug);
  if (!config.dryRun && longRunning(config.mode, inputs.env)) {
    log.debug({ config: summary(config) }, 'configuration');
    // Loaded only here: the long-running side (metrics, the status server, the proxies) would
    // otherwise cost an init container's start-up a few hundred milliseconds of module loading.
    const { runRouterService } = await import('./live/router-service.js');
    return runRouterService(env, gate, log, output);
  }
  log.debug({ config: summary(config) }, 'configuration');
  const observed = await probe(config);
  if (!observed.ok) {
    output.problems(observed.problems);
    return exitCodeFor(observed.problems);
  }
  log.debug({ observed: { ...observed.value, iptables: undefined } }, 'observed');
  const plan = buildPlan(config, observed.value, await resolvedRuleset(config, log));
  if (!plan.ok) {
    output.problems(plan.problems);
    return exitCodeFor(plan.problems);
  }
  if (config.dryRun) {
    output.out(renderDryRun(plan.value));
    return 0;
  }
  const failure = await applyPlan(plan.value, log);
  if (failure) {
    output.problems([failure]);
    return exitCodeFor([failure]);
  }
  await announce(plan.value.announce, config.egressInterface, log);
  log.info({ mode: config.mode, source: `${config.source.text}/${config.source.prefix}`, gateway: config.gateway.text, backend: observed.value.firewallBackend, rules: config.destinations?.redirects.length ?? 0, changes: plan.value.steps.length }, 'egress router ready');
  return 0;
}

/**
 * The ruleset with the list's names resolved once: a one-shot run has nothing to keep them fresh.
 * A name without an answer has its port refused, and the log says so.
 */
async function resolvedRuleset(config: Config, log: Logger): Promise<Ruleset | undefined> {
  const names = namesOf(config.destinations);
  if (names.length === 0) return rulesetFor(config, noAnswers);
  const { resolver } = podResolver(readTextFile, config.resolvConf);
  const answers = await resolveOnce(names, config.family, resolver);
  for (const { name, reason } of answers.failures) log.warn({ name, error: reason }, `${name}: ${reason}; its port refuses connections`);
  log.info({ names: names.map((name) => ({ name, addresses: answers.addressesOf(name)?.map((a) => a.text) ?? [] })) }, 'names resolved once (init mode: use legacy mode to follow their changes)');
  return rulesetFor(config, answers.addressesOf);
}

/** The configuration for the debug log, without 100,000 rules in it. */
function summary(config: Config) {
  return { ...config, destinations: config.destinations && { rules: config.destinations.redirects.length, fallback: config.destinations.fallback && destinationText(config.destinations.fallback.target) } };
}
