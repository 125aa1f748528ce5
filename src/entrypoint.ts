/**
 * The pod entrypoint: configuration, then a probe of the namespace, then the plan, then (unless
 * this is a dry run) the changes, in the order the mode asks for.
 *
 *   init                 apply, exit 0
 *   legacy               apply, stay up until SIGTERM or SIGINT, exit 0
 *   http-proxy/dns-proxy network only (the proxy container does the rest), exit 0
 *   unit-test            print the ruleset, change nothing
 */
import type { Logger } from 'pino';
import { type Config, type Environment, parseConfig, withEnvFile } from './config/config.js';
import { noAnswers, rulesetFor } from './firewall/ruleset.js';
import { createLogger } from './log.js';
import { destinationText } from './config/destinations.js';
import { buildPlan, firewallStep } from './plan/build.js';
import { planAnnouncements } from './plan/network.js';
import { type Problem, exitCodeFor } from './problem.js';
import { announce } from './system/announce.js';
import { applyPlan, renderDryRun } from './system/apply.js';
import { readTextFile } from './system/files.js';
import { probe } from './system/probe.js';
import { runCommand } from './system/commands.js';
import { dropCounterCommand, parseDropCount } from './firewall/drops.js';

export interface Output {
  out: (text: string) => void;
  problems: (problems: readonly Problem[]) => void;
}

/** The delay before the second announcement, as the legacy router did it. */
const REANNOUNCE_AFTER_MS = 2000;

/**
 * Signals that arrive while the router is changing things wait until the change is complete,
 * so a pod deleted mid-start never leaves half a configuration behind.
 */
class SignalGate {
  private received: NodeJS.Signals | undefined;
  private onSignal: ((signal: NodeJS.Signals) => void) | undefined;
  constructor() {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        this.received = signal;
        this.onSignal?.(signal);
      });
    }
  }
  get pending(): NodeJS.Signals | undefined {
    return this.received;
  }
  /** Resolves at the first signal (at once if one already came). */
  wait(): Promise<NodeJS.Signals> {
    if (this.received) return Promise.resolve(this.received);
    return new Promise((resolve) => (this.onSignal = resolve));
  }
}

function printUnitTest(config: Config, output: Output): number {
  // Names are not resolved here (yet): their ports print as refusing.
  const ruleset = rulesetFor(config, noAnswers);
  // auto means nftables here: unit-test mode looks at nothing on the machine.
  if (ruleset) output.out(firewallStep(ruleset, config.firewall === 'iptables' ? 'iptables' : 'nftables').input);
  return 0;
}

/** How often a debugging legacy-mode router reports new forward drops. */
const DROP_REPORT_EVERY_MS = 10_000;

/**
 * Kernel log lines from a pod's namespace usually go nowhere, so with EGRESS_ROUTER_DEBUG the
 * long-running router reports the drop counter in its own log whenever it grows.
 */
function reportDrops(config: Config, backend: 'nftables' | 'iptables', log: Logger): NodeJS.Timeout | undefined {
  if (!config.debug || !config.destinations) return undefined;
  let last = 0;
  return setInterval(() => {
    void runCommand(dropCounterCommand(backend, config.family)).then((result) => {
      const dropped = result.ok ? parseDropCount(backend, result.stdout) : undefined;
      if (dropped !== undefined && dropped > last) {
        log.debug({ forwardDropped: dropped, since: dropped - last }, 'dropped forwarded packets that were not redirected');
        last = dropped;
      }
    });
  }, DROP_REPORT_EVERY_MS);
}

async function stayUp(config: Config, backend: 'nftables' | 'iptables', gate: SignalGate, log: Logger): Promise<number> {
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const drops = reportDrops(config, backend, log);
  const reannounce = setTimeout(() => {
    const again = planAnnouncements(config).filter((argv) => argv[1] === '-U');
    void announce(again, config.egressInterface, log);
  }, REANNOUNCE_AFTER_MS);
  const signal = await gate.wait();
  clearTimeout(reannounce);
  clearInterval(keepAlive);
  clearInterval(drops);
  log.info({ signal }, 'stopping; the configuration stays in place');
  return 0;
}

export async function runEntrypoint(env: Environment, flags: { dryRun: boolean }, output: Output): Promise<number> {
  const merged = withEnvFile(env, readTextFile);
  const parsed = merged.ok ? parseConfig(merged.value, readTextFile, flags) : merged;
  if (!parsed.ok) {
    output.problems(parsed.problems);
    return exitCodeFor(parsed.problems);
  }
  const config = parsed.value;
  if (config.mode === 'unit-test') return printUnitTest(config, output);

  const gate = new SignalGate();
  const log = await createLogger(config.debug);
  log.debug({ config: { ...config, destinations: config.destinations && { rules: config.destinations.redirects.length, fallback: config.destinations.fallback && destinationText(config.destinations.fallback.target) } } }, 'configuration');
  const observed = await probe(config);
  if (!observed.ok) {
    output.problems(observed.problems);
    return exitCodeFor(observed.problems);
  }
  log.debug({ observed: { ...observed.value, iptables: undefined } }, 'observed');
  const plan = buildPlan(config, observed.value);
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
  if (config.mode !== 'legacy') return 0;
  if (gate.pending) {
    log.info({ signal: gate.pending }, 'stopping; the configuration stays in place');
    return 0;
  }
  return stayUp(config, observed.value.firewallBackend, gate, log);
}
