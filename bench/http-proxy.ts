/**
 * The HTTP proxy benchmark (issue 9): Debian's squid, configured as the legacy proxy container's
 * script configured it, and this project's proxy, side by side in one pod of the test topology,
 * measured in interleaved rounds from the client pod:
 *
 * - keep-alive GET requests/s, with p50/p99 latency under that load and CPU per request (wrk);
 * - new-connection requests/s (wrk with `Connection: close`);
 * - CONNECT tunnels/s (bench/connect-loadgen.mjs: connect, CONNECT, one echoed line, close);
 * - one 200 MB download (curl);
 * - resident memory (VmRSS now, VmHWM peak).
 *
 * The destination is bench/http-upstream.mjs on the LAN, cheap enough not to set the pace. The
 * rule list is one network, so neither proxy looks a name up. Both proxies have the pod's resolver
 * answering (dnsmasq at the cluster DNS address): squid asks it for every new client's reverse
 * name, and with no answer it piled up unanswered queries whose bookkeeping slowed every tunnel.
 *
 * The request and tunnel rates have a third contender, for reference: bench/reference-proxy.mjs,
 * the least a proxy on Node's public API does (no rules, limits, timeouts or counters), in the
 * same pod, so that each run shows what Node itself costs beside what egress-router adds.
 */
import { execa, type ResultPromise } from 'execa';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DnsServer } from '../test/support/dns-server.js';
import { waitForOutput } from '../test/support/output.js';
import { ADDRESSES, ROOT, Topology } from '../test/support/topology.js';
import { memoryKb, processCpuUs } from './proc.js';
import { fixed, int, markdownTable, mb, median } from './report.js';
import { routerCommand, routerEntry, timedRun } from './runs.js';

export interface HttpProxyProfile {
  rounds: number;
  /** Length of each rate measurement. */
  seconds: number;
  /** wrk's connections, and the CONNECT load generator's tunnels in flight. */
  connections: number;
  downloadMb: number;
  enforce: boolean;
}

export const HTTP_PROXY_FULL: HttpProxyProfile = { rounds: 5, seconds: 3, connections: 50, downloadMb: 200, enforce: true };
export const HTTP_PROXY_SMOKE: HttpProxyProfile = { rounds: 1, seconds: 1, connections: 16, downloadMb: 20, enforce: false };

const [DESTINATION] = ADDRESSES.destinations;
const LIST = '# the benchmark destination, as a network: no lookups\n203.0.113.0/24\n';
const ECHO_PORT = 7;
const PROXIES = ['squid', 'egress-router'] as const;
type Proxy = (typeof PROXIES)[number];
/** The reference proxy, measured for the request and tunnel rates. */
const REFERENCE = 'node-reference';
type Contender = Proxy | typeof REFERENCE;
const PORTS: Record<Contender, number> = { squid: 8080, 'egress-router': 8081, [REFERENCE]: 8082 };
/** The cluster DNS of the pod (on the cluster side, on-link through eth0). */
const NAMESERVER = '10.128.0.1';

/**
 * The squid configuration the legacy container's script wrote for a list: http_port 8080, no
 * cache, no access log, one acl per rule, first match wins, then deny all (allow all after `*`).
 * Only the pid and log file locations are added, in the benchmark's own directory, so that the
 * run touches nothing of the machine's squid, and the nameserver, which in the pod came from its
 * resolv.conf (the cluster DNS) and here must not be the machine's own.
 */
export function legacySquidConfig(list: string, dir: string, nameserver: string): string {
  const lines = ['http_port 8080', 'cache deny all', 'access_log none all', 'debug_options ALL,0', 'shutdown_lifetime 0'];
  let n = 0;
  let wildcard = false;
  for (const raw of list.split('\n')) {
    const dest = raw.trim();
    if (dest === '' || dest.startsWith('#')) continue;
    n++;
    if (dest === '*') {
      wildcard = true;
      continue;
    }
    const deny = dest.startsWith('!');
    const text = deny ? dest.slice(1) : dest;
    const acl = /^[0-9a-fA-F.:]*[.:][0-9a-fA-F.:]+(\/[0-9]+)?$/.test(text) ? `dst ${text}` : `dstdomain ${text.startsWith('*') ? text.slice(1) : text}`;
    lines.push(`acl dest${n} ${acl}`, `http_access ${deny ? 'deny' : 'allow'} dest${n}`);
  }
  lines.push(`http_access ${wildcard ? 'allow' : 'deny'} all`);
  lines.push(`pid_filename ${dir}/squid.pid`, `cache_log ${dir}/cache.log`, `coredump_dir ${dir}`, `dns_nameservers ${nameserver}`);
  return `${lines.join('\n')}\n`;
}

const WRK_SCRIPT = `
local target = os.getenv("TARGET")
wrk.method = "GET"
wrk.path = target
wrk.headers["Host"] = target:match("^http://([^/]+)")
if os.getenv("CLOSE") == "1" then wrk.headers["Connection"] = "close" end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99), latency.max))
end
`;

/** What is measured, each in interleaved rounds (each contender first in turn). */
const MEASURES = ['keepAlive', 'newConnection', 'tunnels', 'download'] as const;
type Measure = (typeof MEASURES)[number];

interface Sample {
  /** Requests, tunnels or megabytes per second. */
  rate: number;
  /** CPU time of the proxy process per request, tunnel or megabyte, in microseconds. */
  cpuUs: number;
  p50Ms?: number;
  p99Ms?: number;
  errors: number;
}

class Bench {
  private readonly children: ResultPromise[] = [];
  readonly pids = {} as Record<Contender, number>;
  private dns: DnsServer | undefined;

  constructor(
    private readonly topology: Topology,
    private readonly dir: string,
    private readonly profile: HttpProxyProfile,
  ) {}

  private inNs(ns: string, argv: string[], env: Record<string, string> = {}) {
    return execa('ip', ['netns', 'exec', ns, ...argv], { env: { PATH: process.env.PATH ?? '', ...env }, extendEnv: false, reject: false, timeout: 120_000 });
  }

  async start(): Promise<void> {
    const { router, lan, client } = this.topology.ns;
    await timedRun(router, { EGRESS_SOURCE: ADDRESSES.sourceCidr, EGRESS_GATEWAY: ADDRESSES.gateway, EGRESS_ROUTER_MODE: 'http-proxy' }, routerCommand());
    // Our namespaces only: tens of thousands of short connections per run, from the client pod
    // and, for every tunnel, from the proxies to the one echo address, must not run out of ports
    // while the closed ones wait out TIME_WAIT.
    for (const ns of [client, router]) {
      await this.topology.exec(ns, ['sysctl', '-qw', 'net.ipv4.ip_local_port_range=1024 65535', 'net.ipv4.tcp_tw_reuse=1']);
    }
    const upstream = execa('ip', ['netns', 'exec', lan, process.execPath, `${ROOT}/bench/http-upstream.mjs`, `${DESTINATION}:80`, `${DESTINATION}:${ECHO_PORT}`], { reject: false });
    this.children.push(upstream);
    await waitForOutput(upstream, 'ready', 'benchmark destination');

    const squidDir = join(this.dir, 'squid');
    mkdirSync(squidDir, { recursive: true });
    // Squid drops to its own user before it writes its log: let it.
    chmodSync(squidDir, 0o777);
    // The pod's resolver: NXDOMAIN for every name, squid's reverse lookups of the client included.
    this.dns = await DnsServer.start(this.topology.ns.cluster, NAMESERVER, []);
    writeFileSync(join(squidDir, 'squid.conf'), legacySquidConfig(LIST, squidDir, NAMESERVER));
    const squid = execa('ip', ['netns', 'exec', router, 'squid', '-N', '-f', join(squidDir, 'squid.conf')], { reject: false, all: true });
    this.children.push(squid);
    this.pids.squid = squid.pid!;

    writeFileSync(join(this.dir, 'resolv.conf'), `nameserver ${NAMESERVER}\n`);
    const ours = execa('ip', ['netns', 'exec', router, process.execPath, routerEntry()], {
      env: { PATH: process.env.PATH ?? '', EGRESS_HTTP_PROXY_DESTINATION: LIST, EGRESS_HTTP_PROXY_PORT: String(PORTS['egress-router']), EGRESS_ROUTER_RESOLV_CONF: join(this.dir, 'resolv.conf') },
      extendEnv: false,
      reject: false,
    });
    this.children.push(ours);
    this.pids['egress-router'] = ours.pid!;
    await waitForOutput(ours, 'http proxy ready', 'egress-router http proxy');
    const reference = execa('ip', ['netns', 'exec', router, process.execPath, `${ROOT}/bench/reference-proxy.mjs`, ADDRESSES.pod, String(PORTS[REFERENCE])], { reject: false });
    this.children.push(reference);
    this.pids[REFERENCE] = reference.pid!;
    await waitForOutput(reference, 'ready', 'reference proxy');
    await this.waitForSquid();
    writeFileSync(join(this.dir, 'proxy.lua'), WRK_SCRIPT);
  }

  /** Squid says nothing on stdout when ready: wait until a request through it is answered. */
  private async waitForSquid(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const probe = await this.inNs(this.topology.ns.client, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-x', `http://${ADDRESSES.pod}:8080`, `http://${DESTINATION}/`]);
      if (probe.stdout === '200') return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`squid did not answer: ${readFileSync(join(this.dir, 'squid', 'cache.log'), 'utf8').slice(-1000)}`);
  }

  private async wrk(proxy: Contender, seconds: number, close: boolean) {
    const result = await this.inNs(
      this.topology.ns.client,
      ['wrk', '-t1', `-c${this.profile.connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', join(this.dir, 'proxy.lua'), `http://${ADDRESSES.pod}:${PORTS[proxy]}/`],
      { TARGET: `http://${DESTINATION}/`, CLOSE: close ? '1' : '0' },
    );
    const line = result.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(`wrk through ${proxy} failed: ${result.stderr || result.stdout}`);
    const [requests, durationUs, errors, badStatus, p50, p99] = line.split(' ').slice(1).map(Number) as number[];
    return { requests: requests!, rate: (requests! * 1e6) / durationUs!, errors: errors! + badStatus!, p50Ms: p50! / 1000, p99Ms: p99! / 1000 };
  }

  private async tunnels(proxy: Contender, ms = this.profile.seconds * 1000): Promise<{ rate: number; ok: number; failed: number }> {
    const result = await this.inNs(this.topology.ns.client, [
      process.execPath, `${ROOT}/bench/connect-loadgen.mjs`, ADDRESSES.pod, String(PORTS[proxy]), `${DESTINATION}:${ECHO_PORT}`, String(ms), String(this.profile.connections),
    ]);
    const run = JSON.parse(result.stdout) as { ok: number; failed: number; ms: number };
    return { rate: run.ok / (run.ms / 1000), ok: run.ok, failed: run.failed };
  }

  private async download(proxy: Proxy): Promise<number> {
    const result = await this.inNs(this.topology.ns.client, [
      'curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', '-x', `http://${ADDRESSES.pod}:${PORTS[proxy]}`, `http://${DESTINATION}/big/${this.profile.downloadMb}`,
    ]);
    const [code, size, seconds] = result.stdout.split(' ');
    if (code !== '200' || Number(size) !== this.profile.downloadMb * 1024 * 1024) throw new Error(`download through ${proxy}: ${result.stdout} ${result.stderr}`);
    return Number(size) / 1024 / 1024 / Number(seconds);
  }

  /** Unrecorded: every path of every contender runs for a while first (Node's JIT, squid's pools). */
  async warmUp(): Promise<void> {
    for (const proxy of [...PROXIES, REFERENCE] as Contender[]) {
      await this.wrk(proxy, 2, false);
      await this.wrk(proxy, 1, true);
      await this.tunnels(proxy, 1000);
    }
  }

  async sample(proxy: Contender, measure: Measure): Promise<Sample> {
    const before = processCpuUs(this.pids[proxy]);
    const timed = (units: number, sample: Omit<Sample, 'cpuUs'>): Sample => ({ ...sample, cpuUs: (processCpuUs(this.pids[proxy]) - before) / Math.max(units, 1) });
    if (measure === 'keepAlive' || measure === 'newConnection') {
      const run = await this.wrk(proxy, this.profile.seconds, measure === 'newConnection');
      return timed(run.requests, { rate: run.rate, p50Ms: run.p50Ms, p99Ms: run.p99Ms, errors: run.errors });
    }
    if (measure === 'tunnels') {
      const run = await this.tunnels(proxy);
      return timed(run.ok, { rate: run.rate, errors: run.failed });
    }
    if (proxy === REFERENCE) throw new Error('the reference proxy is not measured for downloads');
    const mbps = await this.download(proxy);
    return timed(this.profile.downloadMb, { rate: mbps, errors: 0 });
  }

  async stop(): Promise<void> {
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => this.children.forEach((c) => c.kill('SIGKILL')), 5000);
    await Promise.allSettled(this.children);
    clearTimeout(timer);
    await this.dns?.stop();
  }
}

export interface SectionResult {
  pass: boolean;
}

const LABELS: Record<Measure, { rate: string; cpu: string }> = {
  keepAlive: { rate: 'keep-alive GET requests/s', cpu: 'CPU per keep-alive request, µs' },
  newConnection: { rate: 'new-connection requests/s', cpu: 'CPU per new-connection request, µs' },
  tunnels: { rate: 'CONNECT tunnels/s', cpu: 'CPU per tunnel, µs' },
  download: { rate: 'MB/s', cpu: 'CPU per MB downloaded, µs' },
};

/** Median with the spread of the samples: `5,472 (4,832-7,239)`. */
function spread(values: number[], digits: number): string {
  const format = (value: number) => (digits === 0 ? int(value) : fixed(value, digits));
  if (values.length < 2) return format(values[0] ?? NaN);
  return `${format(median(values))} (${format(Math.min(...values))}-${format(Math.max(...values))})`;
}

/** Runs the section and prints its tables; `pass` is false when an enforced target failed. */
export async function httpProxySection(profile: HttpProxyProfile, dir: string, log: (text: string) => void, progress: (text: string) => void): Promise<SectionResult> {
  const topology = await Topology.create();
  const bench = new Bench(topology, dir, profile);
  const contenders: Contender[] = [...PROXIES, REFERENCE];
  const samples = Object.fromEntries(contenders.map((p) => [p, Object.fromEntries(MEASURES.map((m) => [m, [] as Sample[]]))])) as Record<Contender, Record<Measure, Sample[]>>;
  let memory: Record<Proxy, { rssKb: number; peakKb: number }>;
  try {
    await bench.start();
    await bench.warmUp();
    // Rounds close in time: a change in the machine's load hits every contender alike.
    for (const measure of MEASURES) {
      const measured: Contender[] = measure === 'download' ? [...PROXIES] : contenders;
      for (let round = 0; round < profile.rounds; round++) {
        // Each contender first in turn.
        const order = measured.map((_, i) => measured[(i + round) % measured.length]!);
        for (const proxy of order) samples[proxy][measure].push(await bench.sample(proxy, measure));
      }
      const rates = measured.map((proxy) => `${proxy} ${int(median(samples[proxy][measure].map((s) => s.rate)))}`).join(', ');
      progress(`http-proxy ${LABELS[measure].rate}${measure === 'download' ? ` (${profile.downloadMb} MB)` : ''}: ${rates}`);
    }
    memory = { squid: memoryKb(bench.pids.squid), 'egress-router': memoryKb(bench.pids['egress-router']) };
  } finally {
    await bench.stop();
    await topology.destroy();
  }

  const values = (proxy: Contender, measure: Measure, key: keyof Sample) => samples[proxy][measure].map((s) => s[key] as number);
  const m = (proxy: Contender, measure: Measure, key: keyof Sample = 'rate') => median(values(proxy, measure, key));
  const row = (label: string, measure: Measure, key: keyof Sample, digits: number) => [
    label,
    spread(values('squid', measure, key), digits),
    spread(values('egress-router', measure, key), digits),
    fixed(m('egress-router', measure, key) / m('squid', measure, key), 2),
  ];
  log(`\n## HTTP proxy: squid (legacy configuration) and egress-router in the same pod\n`);
  log(
    `Median of ${profile.rounds} interleaved round(s), min-max in brackets; ${profile.connections} connections (wrk -t1) or tunnels in flight, ` +
      `${profile.seconds} s per measurement; one ${profile.downloadMb} MB download per sample; list \`203.0.113.0/24\`.\n`,
  );
  log(
    markdownTable(
      ['', 'squid', 'egress-router', 'egress-router / squid'],
      [
        row(LABELS.keepAlive.rate, 'keepAlive', 'rate', 0),
        row(LABELS.newConnection.rate, 'newConnection', 'rate', 0),
        row(LABELS.tunnels.rate, 'tunnels', 'rate', 0),
        row(`${profile.downloadMb} MB download, MB/s`, 'download', 'rate', 0),
        row('p50 latency under keep-alive load, ms', 'keepAlive', 'p50Ms', 2),
        row('p99 latency under keep-alive load, ms', 'keepAlive', 'p99Ms', 2),
        row('p99 latency, new connections, ms', 'newConnection', 'p99Ms', 2),
        ...MEASURES.map((measure) => row(LABELS[measure].cpu, measure, 'cpuUs', 0)),
        ['resident memory after the runs (VmRSS), MB', mb(memory.squid.rssKb), mb(memory['egress-router'].rssKb), fixed(memory['egress-router'].rssKb / memory.squid.rssKb, 2)],
        ['peak resident memory (VmHWM), MB', mb(memory.squid.peakKb), mb(memory['egress-router'].peakKb), fixed(memory['egress-router'].peakKb / memory.squid.peakKb, 2)],
        ['failed requests and tunnels', ...PROXIES.map((p) => int(MEASURES.reduce((n, measure) => n + samples[p][measure].reduce((k, s) => k + s.errors, 0), 0))), '-'],
      ],
    ),
  );
  // What Node's public API allows at best, in the same rounds: how much of a cost is Node's own.
  const reference = (label: string, measure: Measure, key: keyof Sample) => [
    label,
    ...contenders.map((c) => spread(values(c, measure, key), 0)),
    fixed(m(REFERENCE, measure, key) / m('squid', measure, key), 2),
    fixed(m('egress-router', measure, key) / m(REFERENCE, measure, key), 2),
  ];
  const referenced = MEASURES.filter((measure) => measure !== 'download');
  log(`\nBeside the reference proxy (bench/reference-proxy.mjs: Node's HTTP server, undici and net, no rules, limits, timeouts or counters), same rounds:\n`);
  log(
    markdownTable(
      ['', 'squid', 'egress-router', 'reference', 'reference / squid', 'egress-router / reference'],
      [
        ...referenced.map((measure) => reference(LABELS[measure].rate, measure, 'rate')),
        ...referenced.map((measure) => reference(LABELS[measure].cpu, measure, 'cpuUs')),
        ['failed requests and tunnels', ...contenders.map((c) => int(referenced.reduce((n, measure) => n + samples[c][measure].reduce((k, s) => k + s.errors, 0), 0))), '-', '-'],
      ],
    ),
  );
  const checks = MEASURES.map((measure) => ({
    name: `${measure === 'download' ? `${profile.downloadMb} MB download, MB/s` : LABELS[measure].rate}: egress-router / squid >= 1.0`,
    value: m('egress-router', measure) / m('squid', measure),
  }))
    .map((c) => ({ ...c, pass: c.value >= 1 }))
    .concat([{ name: 'p99 latency under keep-alive load: egress-router / squid <= 1.0', value: m('egress-router', 'keepAlive', 'p99Ms') / m('squid', 'keepAlive', 'p99Ms'), pass: false }]);
  checks[checks.length - 1]!.pass = checks[checks.length - 1]!.value <= 1;
  const verdict = (pass: boolean) => (pass ? 'PASS' : profile.enforce ? 'FAIL' : 'FAIL (not enforced)');
  log(`\n### HTTP proxy targets${profile.enforce ? '' : ' (smoke run: reported, not enforced)'}\n`);
  log(markdownTable(['target', 'measured', 'result'], checks.map((c) => [c.name, fixed(c.value, 2), verdict(c.pass)])));
  return { pass: !profile.enforce || checks.every((c) => c.pass) };
}
