/**
 * The scale benchmark (issue 4) and the HTTP proxy benchmark (issue 9, bench/http-proxy.ts), run
 * by `npm run bench`. In one run, in network namespaces it
 * creates and always removes, it measures:
 *
 * - apply: wall time (process start to exit of an `init` run reading EGRESS_DESTINATION_FILE)
 *   and peak RSS at 100 / 1,000 / 10,000 / 100,000 rules, with the nftables and the iptables
 *   backend, and the cost per rule;
 * - connection rate: new TCP connections per second from the client pod through the router to
 *   the first and to the last rule's port, for this router (nftables map), for its iptables
 *   backend, and for the legacy shape (one DNAT rule per redirect in a `table ip nat`, generated
 *   here), loaded in turn into the same router namespace, in interleaved rounds;
 * - start-up: process start to exit of `init` for a 3-rule list in a fresh pod, next to a model
 *   of the legacy script (bench/legacy-model.sh) in other fresh pods;
 * - memory: the peak RSS of an `init` run and of an idle legacy-mode router;
 * - the DNS proxy (bench/dns-proxy.ts): haproxy as the legacy image configured it, beside this
 *   router's DNS proxy paths.
 *
 * It prints markdown tables and PASS/FAIL per target; a failed target makes the full run exit 1.
 *
 *   npm run bench                  full run (a few minutes); writes docs/benchmarks.svg
 *   npm run bench -- --smoke       small and fast, targets reported but not enforced (CI)
 *   options: --svg FILE | --no-svg; --only router|dns-proxy|reload|http-proxy (one section)
 *
 * The http-proxy section (bench/http-proxy.ts) runs squid and the built-in HTTP proxy side by side.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { onPath } from '../src/system/probe.js';
import { ADDRESSES, ROOT, Topology, routerEnv } from '../test/support/topology.js';
import { benchRules, destinationList, distinctTargets, legacyNftRuleset } from './lists.js';
import { type Panel, renderChart } from './plot.js';
import { HTTP_PROXY_FULL, HTTP_PROXY_SMOKE, httpProxySection } from './http-proxy.js';
import { LoadGenerator, type RateOptions } from './rate.js';
import { describeMachine, fixed, int, loadAverage, markdownTable, mb, median, withSpread } from './report.js';
import { LEGACY_MODEL, hasGnuTime, idleLegacyProcess, routerCommand, timedRun, useCopyOfBuild } from './runs.js';
import { DNS_PROXY_FULL, DNS_PROXY_SMOKE, benchDnsProxy } from './dns-proxy.js';
import { benchReload } from './reload.js';

interface Profile {
  name: 'full' | 'smoke';
  applySizes: number[];
  applyRepeats: number;
  /** Also apply the largest list with a distinct destination address on every rule. */
  distinctLargest: boolean;
  startupRuns: number;
  /** List sizes at which connection rates are measured, and the one the targets are read at. */
  rateSizes: number[];
  targetSize: number;
  rounds: number;
  roundsAtTarget: number;
  rate: RateOptions;
  processes: number;
  enforce: boolean;
}

const FULL: Profile = {
  name: 'full',
  applySizes: [100, 1_000, 10_000, 100_000],
  applyRepeats: 3,
  distinctLargest: true,
  startupRuns: 5,
  rateSizes: [100, 1_000, 10_000],
  targetSize: 10_000,
  rounds: 5,
  roundsAtTarget: 7,
  rate: { ms: 1_500, inFlight: 16, max: 50_000 },
  processes: 2,
  enforce: true,
};

const SMOKE: Profile = {
  name: 'smoke',
  applySizes: [100, 1_000],
  applyRepeats: 1,
  distinctLargest: false,
  startupRuns: 1,
  rateSizes: [1_000],
  targetSize: 1_000,
  rounds: 1,
  roundsAtTarget: 1,
  rate: { ms: 400, inFlight: 16, max: 10_000 },
  processes: 2,
  enforce: false,
};

/** Targets from issue 4: ratios measured in the same run, and two absolute budgets. */
const TARGETS = {
  lastOverFirst: 0.9,
  routerOverLegacy: 3,
  startupFractionOfLegacy: 1 / 5,
  startupMs: 200,
  applyMsAt100k: 2_000,
};

const THREE_RULES = ADDRESSES.destinations.map((d, i) => `${80 + i} tcp ${d} 80`).join('\n');
type Backend = 'nftables' | 'iptables';
const BACKENDS: Backend[] = ['nftables', 'iptables'];
type Shape = 'router' | 'iptables' | 'legacy';
const SHAPES: Shape[] = ['router', 'iptables', 'legacy'];
const SHAPE_NAMES: Record<Shape, string> = {
  router: 'this router, nftables (map)',
  iptables: 'this router, iptables backend (a rule per redirect)',
  legacy: 'legacy shape (a rule per redirect)',
};

const SECTIONS = ['router', 'dns-proxy', 'reload', 'http-proxy'] as const;
type Section = (typeof SECTIONS)[number];

function parseArgs(argv: string[]): { profile: Profile; svg: string | undefined; sections: Section[] } {
  let profile = FULL;
  let svg: string | undefined | null = null;
  let sections: Section[] = [...SECTIONS];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--smoke') profile = SMOKE;
    else if (arg === '--svg' && argv[i + 1]) svg = argv[++i]!;
    else if (arg === '--no-svg') svg = undefined;
    else if (arg === '--only' && (SECTIONS as readonly string[]).includes(argv[i + 1] ?? '')) sections = [argv[++i] as Section];
    else throw new Error(`unknown argument ${arg}; usage: bench [--smoke] [--svg FILE | --no-svg] [--only ${SECTIONS.join('|')}]`);
  }
  // Only a full run of the router section replaces the committed plot unless told otherwise.
  if (svg === null) svg = profile.name === 'full' && sections.includes('router') ? `${ROOT}/docs/benchmarks.svg` : undefined;
  return { profile, svg, sections };
}

function prerequisites(sections: Section[]): string[] {
  const tools = ['ip', 'nft', 'iptables-restore', 'iptables-save', 'arping', 'bash'];
  if (sections.includes('http-proxy')) tools.push('squid', 'wrk', 'curl', 'dnsmasq');
  if (sections.includes('dns-proxy')) tools.push('haproxy', 'dnsmasq');
  const missing = tools.filter((tool) => !onPath(tool));
  if (process.getuid?.() !== 0) missing.unshift('root');
  return missing;
}

const log = (text: string) => process.stdout.write(`${text}\n`);
const progress = (text: string) => process.stderr.write(`  .. ${text}\n`);

interface ApplyRow {
  rules: number;
  /** Set for the extra run with a distinct destination on every rule. */
  distinct?: boolean;
  ms: Record<Backend, number[]>;
  nodePeakKb: Record<Backend, number>;
  treePeakKb: Record<Backend, number | undefined>;
}

interface RateCell {
  rules: number;
  shape: Shape;
  rule: 'first' | 'last';
  rates: number[];
  failed: number;
  ok: number;
  errors: Record<string, number>;
}

interface StartupResult {
  router: number[];
  legacy: number[];
}

/** Empties the router pod's firewall (our namespace only): every measured load starts from nothing. */
async function clearFirewall(topology: Topology): Promise<void> {
  await topology.exec(topology.ns.router, ['nft', 'flush', 'ruleset']);
}

/** The "egress router ready" log line of an init run must name the number of rules applied. */
function checkReady(stdout: string, rules: number): void {
  const ready = stdout.split('\n').find((l) => l.includes('egress router ready'));
  if (!ready) throw new Error(`init run did not log "egress router ready": ${stdout.slice(-300)}`);
  const applied = (JSON.parse(ready) as { rules?: number }).rules;
  if (applied !== rules) throw new Error(`init run applied ${applied} rules, expected ${rules}`);
}

async function initRun(topology: Topology, file: string, rules: number, backend: Backend, rss: boolean) {
  const env = routerEnv({ EGRESS_DESTINATION_FILE: file, EGRESS_ROUTER_FIREWALL: backend });
  const run = await timedRun(topology.ns.router, env, routerCommand({ rss }));
  checkReady(run.stdout, rules);
  return run;
}

async function measureApply(topology: Topology, dir: string, profile: Profile): Promise<ApplyRow[]> {
  const lists: { rules: number; distinct?: boolean; text: string }[] = profile.applySizes.map((n) => ({
    rules: n,
    text: destinationList(benchRules(n, ADDRESSES.destinations)),
  }));
  const largest = profile.applySizes[profile.applySizes.length - 1]!;
  if (profile.distinctLargest) lists.push({ rules: largest, distinct: true, text: destinationList(benchRules(largest, distinctTargets(largest))) });
  const rows: ApplyRow[] = [];
  for (const list of lists) {
    const file = join(dir, `apply-${list.rules}${list.distinct ? '-distinct' : ''}.txt`);
    writeFileSync(file, list.text);
    const row: ApplyRow = {
      rules: list.rules,
      distinct: list.distinct,
      ms: { nftables: [], iptables: [] },
      nodePeakKb: { nftables: 0, iptables: 0 },
      treePeakKb: { nftables: undefined, iptables: undefined },
    };
    for (let rep = 0; rep < profile.applyRepeats; rep++) {
      for (const backend of list.distinct ? (['nftables'] as const) : BACKENDS) {
        // Each run loads its rules into an empty firewall: the cost of n rules, not of replacing
        // whatever the previous run left. The network is already configured (warm-up run).
        await clearFirewall(topology);
        const run = await initRun(topology, file, list.rules, backend, true);
        row.ms[backend].push(run.ms);
        row.nodePeakKb[backend] = Math.max(row.nodePeakKb[backend], run.nodePeakKb ?? 0);
        if (run.treePeakKb !== undefined) row.treePeakKb[backend] = Math.max(row.treePeakKb[backend] ?? 0, run.treePeakKb);
      }
    }
    const iptables = row.ms.iptables.length ? `, iptables ${int(median(row.ms.iptables))} ms` : '';
    progress(`apply ${int(list.rules)} rules${list.distinct ? ' (distinct destinations)' : ''}: nftables ${int(median(row.ms.nftables))} ms${iptables}`);
    rows.push(row);
  }
  await clearFirewall(topology);
  return rows;
}

/**
 * Start-up in fresh pods: every run gets a new topology, as a new pod would, so the network
 * steps are part of it. The legacy model runs in its own fresh pods, alternating with the router.
 */
async function measureStartup(profile: Profile): Promise<StartupResult> {
  const result: StartupResult = { router: [], legacy: [] };
  const env = routerEnv({ EGRESS_DESTINATION: THREE_RULES });
  const pods: Topology[] = [];
  try {
    for (let i = 0; i < profile.startupRuns * 2; i++) pods.push(await Topology.create());
    for (let i = 0; i < profile.startupRuns; i++) {
      const order = i % 2 === 0 ? (['router', 'legacy'] as const) : (['legacy', 'router'] as const);
      for (const [k, who] of order.entries()) {
        const pod = pods[i * 2 + k]!;
        if (who === 'router') {
          const run = await timedRun(pod.ns.router, env, routerCommand());
          checkReady(run.stdout, 3);
          result.router.push(run.ms);
        } else {
          result.legacy.push((await timedRun(pod.ns.router, env, ['bash', LEGACY_MODEL])).ms);
        }
      }
    }
  } finally {
    for (const pod of pods) await pod.destroy();
  }
  progress(`start-up: router ${int(median(result.router))} ms, legacy model ${int(median(result.legacy))} ms`);
  return result;
}

async function measureRates(topology: Topology, dir: string, profile: Profile): Promise<RateCell[]> {
  const cells: RateCell[] = [];
  const cell = (rules: number, shape: Shape, rule: RateCell['rule']): RateCell => {
    let found = cells.find((c) => c.rules === rules && c.shape === shape && c.rule === rule);
    if (!found) cells.push((found = { rules, shape, rule, rates: [], ok: 0, failed: 0, errors: {} }));
    return found;
  };
  const generator = await LoadGenerator.start(topology.ns.client, profile.processes);
  try {
    // Unrecorded: lets the load generators and the server warm up (JIT) before anything counts.
    await clearFirewall(topology);
    await initRun(topology, join(dir, 'warm-up.txt'), 3, 'nftables', false);
    await generator.measure({ host: ADDRESSES.pod, port: 80, expect: ADDRESSES.source }, { ...profile.rate, ms: 1_000 });
    for (const size of profile.rateSizes) {
      const rules = benchRules(size, ADDRESSES.destinations);
      const file = join(dir, `rate-${size}.txt`);
      writeFileSync(file, destinationList(rules));
      const legacy = legacyNftRuleset(rules, { clusterInterface: 'eth0', egressInterface: 'macvlan0', source: ADDRESSES.source });
      const ports = { first: rules[0]!.port, last: rules[rules.length - 1]!.port };
      const install = async (shape: Shape) => {
        await clearFirewall(topology);
        if (shape === 'legacy') await topology.exec(topology.ns.router, ['nft', '-f', '-'], legacy);
        else await initRun(topology, file, size, shape === 'router' ? 'nftables' : 'iptables', false);
      };
      const rounds = size === profile.targetSize ? profile.roundsAtTarget : profile.rounds;
      for (let round = 0; round < rounds; round++) {
        // Rotate the order of shapes, and alternate the order of ports, between rounds, so that
        // drift in the machine's load does not favour one of them.
        const shapes = SHAPES.map((_, i) => SHAPES[(i + round) % SHAPES.length]!);
        for (const shape of shapes) {
          await install(shape);
          // A short unrecorded burst: the first connections after a load warm caches up.
          await generator.measure({ host: ADDRESSES.pod, port: ports.first, expect: ADDRESSES.source }, { ...profile.rate, ms: 100 });
          const order = round % 2 === 0 ? (['first', 'last'] as const) : (['last', 'first'] as const);
          for (const rule of order) {
            const sample = await generator.measure({ host: ADDRESSES.pod, port: ports[rule], expect: ADDRESSES.source }, profile.rate);
            const c = cell(size, shape, rule);
            c.rates.push(sample.rate);
            c.ok += sample.ok;
            c.failed += sample.failed;
            for (const [code, n] of Object.entries(sample.errors)) c.errors[code] = (c.errors[code] ?? 0) + n;
          }
        }
      }
      const m = (shape: Shape, rule: RateCell['rule']) => int(median(cell(size, shape, rule).rates));
      progress(
        `rates at ${int(size)} rules, first/last: router ${m('router', 'first')}/${m('router', 'last')}, ` +
          `iptables ${m('iptables', 'first')}/${m('iptables', 'last')}, legacy ${m('legacy', 'first')}/${m('legacy', 'last')} conn/s`,
      );
    }
  } finally {
    await generator.stop();
    await clearFirewall(topology);
  }
  return cells;
}

interface Check {
  name: string;
  value: string;
  pass: boolean;
}

async function main(): Promise<number> {
  const { profile, svg, sections } = parseArgs(process.argv.slice(2));
  const missing = prerequisites(sections);
  if (missing.length > 0) {
    process.stderr.write(`bench: cannot run without ${missing.join(', ')}\n`);
    return 1;
  }
  const started = performance.now();
  const dir = mkdtempSync(join(os.tmpdir(), 'egress-router-bench-'));
  try {
    await execa(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
    useCopyOfBuild(dir);
    let code = 0;
    if (sections.includes('router')) code = await run(profile, svg, dir, started);
    else log(`# egress-router benchmark (${profile.name} run)\n\n- load average at start: ${loadAverage()}`);
    for (const only of ['dns-proxy', 'reload'] as const) {
      if (sections.includes(only) && (await runOnly(only, profile, dir, started)) !== 0) code = 1;
    }
    if (sections.includes('http-proxy')) {
      const proxy = await httpProxySection(profile.name === 'full' ? HTTP_PROXY_FULL : HTTP_PROXY_SMOKE, dir, log, progress);
      if (!proxy.pass) code = 1;
      log(`\nload average at end ${loadAverage()}; took ${fixed((performance.now() - started) / 1000, 1)} s`);
    }
    return code;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The reload section: 100,000 rules in a full run, 1,000 in a smoke run. */
function reloadSection(profile: Profile) {
  return benchReload(profile.name === 'full' ? 100_000 : 1_000, profile.name === 'full' ? 3 : 1, { entry: routerCommand()[1]!, progress });
}

/** The DNS proxy section on the built router in `dir`. */
function dnsProxySection(profile: Profile, dir: string) {
  return benchDnsProxy(profile.name === 'full' ? DNS_PROXY_FULL : DNS_PROXY_SMOKE, { dir, entry: routerCommand()[1]!, progress });
}

async function runOnly(only: 'dns-proxy' | 'reload', profile: Profile, dir: string, started: number): Promise<number> {
  const machine = await describeMachine();
  log(`\n# egress-router benchmark, ${only} section (${profile.name} run)\n`);
  log(`- CPU: ${machine.cpu}, ${machine.cores} cores; kernel ${machine.kernel}; node ${machine.node}`);
  log(`- load average at start: ${loadAverage()}\n`);
  const section = only === 'dns-proxy' ? await dnsProxySection(profile, dir) : await reloadSection(profile);
  log(section.markdown);
  log(`\n## Targets${profile.enforce ? '' : ' (smoke run: reported, not enforced)'}\n`);
  const verdict = (c: Check) => (c.pass ? 'PASS' : profile.enforce ? 'FAIL' : 'FAIL (not enforced)');
  log(markdownTable(['target', 'measured', 'result'], section.checks.map((c) => [c.name, c.value, verdict(c)])));
  log(`\nload average at end ${loadAverage()}; took ${fixed((performance.now() - started) / 1000, 1)} s`);
  return profile.enforce && section.checks.some((c) => !c.pass) ? 1 : 0;
}

async function run(profile: Profile, svg: string | undefined, dir: string, started: number): Promise<number> {
  const machine = await describeMachine();
  const loadBefore = loadAverage();
  log(`# egress-router benchmark (${profile.name} run)\n`);
  log(`- CPU: ${machine.cpu}, ${machine.cores} cores; kernel ${machine.kernel}`);
  log(`- ${machine.nft}; ${machine.iptables}; node ${machine.node}`);
  log(`- load average at start: ${loadBefore}\n`);

  let apply: ApplyRow[];
  let idle: Awaited<ReturnType<typeof idleLegacyProcess>>;
  let rates: RateCell[];
  writeFileSync(join(dir, 'warm-up.txt'), THREE_RULES);
  const startup = await measureStartup(profile);
  const topology = await Topology.create();
  try {
    await topology.startServers(topology.ns.lan, ADDRESSES.destinations.map((d) => `tcp:${d}:80`));
    // Our own namespaces only: the client may use every port, and conntrack in the router pod
    // forgets closed connections after 2 s instead of 10 (reset) or 120 (TIME_WAIT), so that
    // a run's hundreds of thousands of short connections do not fill the conntrack table.
    await topology.exec(topology.ns.client, ['sysctl', '-qw', 'net.ipv4.ip_local_port_range=1024 65535']);
    checkReady((await timedRun(topology.ns.router, routerEnv({ EGRESS_DESTINATION: THREE_RULES }), routerCommand())).stdout, 3);
    for (const state of ['close', 'time_wait']) {
      await topology.exec(topology.ns.router, ['sysctl', '-qw', `net.netfilter.nf_conntrack_tcp_timeout_${state}=2`]);
    }
    apply = await measureApply(topology, dir, profile);
    idle = await idleLegacyProcess(topology.ns.router, routerEnv({ EGRESS_DESTINATION: THREE_RULES }));
    progress(`idle legacy mode: ${mb(idle.rssKb)} MB resident`);
    rates = await measureRates(topology, dir, profile);
  } finally {
    await topology.destroy();
  }
  const loadAfter = loadAverage();

  // Apply.
  const plain = apply.filter((a) => !a.distinct);
  log(`## Apply: \`init\` with EGRESS_DESTINATION_FILE into an empty firewall (median of ${profile.applyRepeats})\n`);
  const applyRows = apply.map((a) => {
    const ms = median(a.ms.nftables);
    const previous = a.distinct ? undefined : plain[plain.indexOf(a) - 1];
    const perRule = previous ? ((ms - median(previous.ms.nftables)) * 1000) / (a.rules - previous.rules) : NaN;
    return [
      `${int(a.rules)}${a.distinct ? ', every destination distinct' : ''}`,
      int(ms),
      previous ? fixed(perRule, 1) : '-',
      mb(a.nodePeakKb.nftables),
      mb(a.treePeakKb.nftables),
      a.ms.iptables.length ? int(median(a.ms.iptables)) : '-',
      a.ms.iptables.length ? mb(a.treePeakKb.iptables ?? a.nodePeakKb.iptables) : '-',
    ];
  });
  log(
    markdownTable(
      ['rules', 'nftables: wall ms', 'µs per added rule', 'node peak RSS MB', `peak RSS with nft MB${hasGnuTime() ? '' : ' (no GNU time)'}`, 'iptables backend: wall ms', 'peak RSS MB'],
      applyRows,
    ),
  );
  const largest = plain[plain.length - 1]!;
  const secondLargest = plain[plain.length - 2];
  const fit = linearFit(plain.map((a) => [a.rules, median(a.ms.nftables)]));
  log(`\nLeast-squares fit (nftables): ${int(fit.constant)} ms + ${fixed(fit.perItem * 1000, 2)} µs per rule.`);
  if (secondLargest) {
    const growth = median(largest.ms.nftables) / median(secondLargest.ms.nftables);
    log(
      `${int(largest.rules)} rules took ${fixed(growth, 2)}x the time of ${int(secondLargest.rules)} ` +
        `(${largest.rules / secondLargest.rules}x the rules): a constant start plus a cost linear in the rules.`,
    );
  }

  // Rates.
  log(
    `\n## New connections per second through the router (median of rounds, min-max in brackets; ` +
      `${profile.processes} client processes x ${profile.rate.inFlight} in flight, ${profile.rate.ms / 1000} s per measurement)\n`,
  );
  const cellOf = (rules: number, shape: Shape, rule: RateCell['rule']) => rates.find((c) => c.rules === rules && c.shape === shape && c.rule === rule)!;
  const rateOf = (rules: number, shape: Shape, rule: RateCell['rule']) => median(cellOf(rules, shape, rule).rates);
  const rateRows: string[][] = [];
  for (const size of profile.rateSizes) {
    for (const shape of SHAPES) {
      const first = cellOf(size, shape, 'first');
      const last = cellOf(size, shape, 'last');
      const failed = first.failed + last.failed;
      const errors = { ...first.errors, ...last.errors };
      rateRows.push([
        int(size),
        SHAPE_NAMES[shape],
        withSpread(first.rates),
        withSpread(last.rates),
        fixed(rateOf(size, shape, 'last') / rateOf(size, shape, 'first'), 2),
        failed === 0 ? '0' : `${failed} of ${int(first.ok + last.ok + failed)} ${JSON.stringify(errors)}`,
      ]);
    }
  }
  log(markdownTable(['rules', 'shape', 'first rule conn/s', 'last rule conn/s', 'last/first', 'failed'], rateRows));

  // Start-up and memory.
  const routerStart = median(startup.router);
  const legacyStart = median(startup.legacy);
  log(`\n## Start-up: process start to exit of \`init\`, 3 rules, fresh pod (median of ${profile.startupRuns})\n`);
  log(
    markdownTable(
      ['', 'median ms', 'runs ms'],
      [
        ['this router', int(routerStart), startup.router.map(int).join(', ')],
        ['legacy script model (bench/legacy-model.sh)', int(legacyStart), startup.legacy.map(int).join(', ')],
      ],
    ),
  );
  log('\n## Memory\n');
  log(
    markdownTable(
      ['process', 'RSS MB'],
      [
        [`\`init\` with ${int(largest.rules)} rules (nftables), node peak (VmHWM)`, mb(largest.nodePeakKb.nftables)],
        [`\`init\` with ${int(largest.rules)} rules (nftables), peak of node and of nft (GNU time)`, mb(largest.treePeakKb.nftables)],
        ['idle legacy-mode router, 3 rules: resident (VmRSS)', mb(idle.rssKb)],
        ['idle legacy-mode router, 3 rules: peak (VmHWM)', mb(idle.peakKb)],
      ],
    ),
  );
  log(`\nThe legacy-mode router exited ${int(idle.stopMs)} ms after SIGTERM.`);

  // Targets.
  const at = profile.targetSize;
  const routerLast = rateOf(at, 'router', 'last');
  const checks: Check[] = [
    {
      name: `this router at ${int(at)} rules: last-rule rate / first-rule rate >= ${TARGETS.lastOverFirst}`,
      value: fixed(routerLast / rateOf(at, 'router', 'first'), 2),
      pass: routerLast / rateOf(at, 'router', 'first') >= TARGETS.lastOverFirst,
    },
    {
      name: `last-rule rate at ${int(at)} rules: this router / legacy shape >= ${TARGETS.routerOverLegacy}`,
      value: fixed(routerLast / rateOf(at, 'legacy', 'last'), 2),
      pass: routerLast / rateOf(at, 'legacy', 'last') >= TARGETS.routerOverLegacy,
    },
    {
      name: `start-up <= ${fixed(TARGETS.startupFractionOfLegacy, 2)} x the legacy model's`,
      value: fixed(routerStart / legacyStart, 3),
      pass: routerStart <= legacyStart * TARGETS.startupFractionOfLegacy,
    },
    { name: `start-up <= ${TARGETS.startupMs} ms`, value: `${int(routerStart)} ms`, pass: routerStart <= TARGETS.startupMs },
  ];
  const at100k = plain.find((a) => a.rules === 100_000);
  if (at100k) {
    const ms = median(at100k.ms.nftables);
    checks.push({ name: `apply of 100,000 rules (nftables) < ${int(TARGETS.applyMsAt100k)} ms`, value: `${int(ms)} ms`, pass: ms < TARGETS.applyMsAt100k });
  }
  log(`\n## Targets${profile.enforce ? '' : ' (smoke run: reported, not enforced)'}\n`);
  const verdict = (c: Check) => (c.pass ? 'PASS' : profile.enforce ? 'FAIL' : 'FAIL (not enforced)');
  log(markdownTable(['target', 'measured', 'result'], checks.map((c) => [c.name, c.value, verdict(c)])));
  log(`\nload average at start ${loadBefore}, at end ${loadAfter}; took ${fixed((performance.now() - started) / 1000, 1)} s`);

  if (svg) {
    const note = `egress-router benchmark, ${profile.name} run: ${machine.cpu}, ${machine.cores} cores, ${machine.kernel}, node ${machine.node}`;
    writeFileSync(svg, renderChart(chartPanels(plain, profile.rateSizes, rateOf), note));
    log(`\nplot written to ${svg}`);
  }
  return profile.enforce && checks.some((c) => !c.pass) ? 1 : 0;
}

/** Least squares of y = constant + perItem * x. */
function linearFit(points: [number, number][]): { constant: number; perItem: number } {
  const mx = points.reduce((sum, [x]) => sum + x, 0) / points.length;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
  const sxy = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  const sxx = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  const perItem = sxx === 0 ? 0 : sxy / sxx;
  return { constant: my - perItem * mx, perItem };
}

function chartPanels(apply: ApplyRow[], rateSizes: number[], rateOf: (rules: number, shape: Shape, rule: 'first' | 'last') => number): Panel[] {
  const fit = linearFit(apply.map((a) => [a.rules, median(a.ms.nftables)]));
  const [smallest, largest] = [apply[0]!.rules, apply[apply.length - 1]!.rules];
  const along = Array.from({ length: 31 }, (_, i) => smallest * (largest / smallest) ** (i / 30));
  return [
    {
      title: 'Apply time (init, rules from a file)',
      xLabel: 'rules',
      yLabel: 'ms, process start to exit',
      yLog: true,
      series: [
        { name: 'this router, nftables', color: '#1f77b4', points: apply.map((a) => [a.rules, median(a.ms.nftables)]) },
        { name: 'this router, iptables backend', color: '#ff7f0e', points: apply.map((a) => [a.rules, median(a.ms.iptables)]) },
        {
          name: `linear fit: ${int(fit.constant)} ms + ${fixed(fit.perItem * 1000, 1)} µs per rule (nftables)`,
          color: '#999',
          dashed: true,
          points: along.map((n) => [n, fit.constant + fit.perItem * n]),
        },
      ],
    },
    {
      title: 'New connections per second',
      xLabel: 'rules in the list',
      yLabel: 'connections/s',
      series: [
        { name: 'this router (nftables map), first rule', color: '#1f77b4', dashed: true, points: rateSizes.map((n) => [n, rateOf(n, 'router', 'first')]) },
        { name: 'this router (nftables map), last rule', color: '#1f77b4', points: rateSizes.map((n) => [n, rateOf(n, 'router', 'last')]) },
        { name: 'iptables backend, last rule', color: '#ff7f0e', points: rateSizes.map((n) => [n, rateOf(n, 'iptables', 'last')]) },
        { name: 'legacy shape, first rule', color: '#d62728', dashed: true, points: rateSizes.map((n) => [n, rateOf(n, 'legacy', 'first')]) },
        { name: 'legacy shape, last rule', color: '#d62728', points: rateSizes.map((n) => [n, rateOf(n, 'legacy', 'last')]) },
      ],
    },
  ];
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
