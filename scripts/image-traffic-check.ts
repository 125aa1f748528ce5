/**
 * The running half of the image check (scripts/image-check.sh builds the image first): runs the
 * image's own entrypoint in the test topology's router namespace, as a pod would, with
 *
 *   ip netns exec <router ns> buildah run --isolation chroot --network host \
 *     --cap-drop <every default capability> --cap-add CAP_NET_ADMIN --cap-add CAP_NET_RAW \
 *     <container> -- <the image's ENTRYPOINT>
 *
 * and checks that traffic flows as in the integration tests: TCP and UDP redirects, a remote
 * port, the fallback, each connection arriving from EGRESS_SOURCE; the gratuitous ARP reaching
 * the LAN; a restart converging to the same state; the iptables backend under no_new_privs (as
 * with allowPrivilegeEscalation: false); legacy mode stopping on SIGTERM. Also: the container
 * holds exactly those two capabilities, a clear refusal without NET_ADMIN, no npm in the image,
 * nothing written to the container's file system. Then the HTTP proxy pod: the image as the init
 * container (EGRESS_ROUTER_MODE=http-proxy), and the image again as the proxy container, as user
 * 65534 with no capability at all, serving a request and stopping on SIGTERM.
 *
 * Usage: node scripts/run-ts.mjs scripts/image-traffic-check.ts IMAGE CONTAINER_NAME_PREFIX
 * Namespaces and containers it makes are removed before it exits, pass or fail.
 */
import { execa, type ResultPromise } from 'execa';
import { readFileSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { ADDRESSES, ROOT, Topology, routerEnv } from '../test/support/topology.js';
import { SCENARIO } from '../test/support/scenario.js';
import { waitForOutput } from '../test/support/output.js';

const [imageArg, prefixArg] = process.argv.slice(2);
if (!imageArg || !prefixArg) {
  process.stderr.write('usage: image-traffic-check.ts IMAGE CONTAINER_NAME_PREFIX\n');
  process.exit(2);
}
const image: string = imageArg;
const prefix: string = prefixArg;

const [D1, , D3] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;
const SOURCE = ADDRESSES.source;
const { destinations: DESTINATIONS, servers: SERVERS, targets: TARGETS, replies: EXPECTED } = SCENARIO;

/** Capability numbers, for reading the masks in /proc/self/status. */
const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;
const WANTED = ['CAP_NET_ADMIN', 'CAP_NET_RAW'];

let failures = 0;
const log = (line: string) => process.stdout.write(`image-check: ${line}\n`);
function check(ok: boolean, what: string, detail = ''): void {
  if (ok) log(`ok   ${what}`);
  else {
    failures++;
    log(`FAIL ${what}${detail ? `\n${detail.replace(/^/gm, '       ')}` : ''}`);
  }
}

async function sh(argv: string[]): Promise<string> {
  const result = await execa(argv[0]!, argv.slice(1), { reject: false });
  if (result.failed) throw new Error(`${argv.join(' ')} failed: ${result.stderr || result.message}`);
  return result.stdout;
}

// ---- the image, its containers and the capabilities given to them -----------------------------

const inspect = JSON.parse(await sh(['buildah', 'inspect', '--type', 'image', image])) as {
  OCIv1: { config: { Entrypoint?: string[]; Cmd?: string[] } };
};
const entrypoint = [...(inspect.OCIv1.config.Entrypoint ?? []), ...(inspect.OCIv1.config.Cmd ?? [])];
if (entrypoint.length === 0) throw new Error(`${image} has no ENTRYPOINT`);

const containers: string[] = [];
async function newContainer(role: string): Promise<string> {
  const name = `${prefix}-${role}`;
  await sh(['buildah', 'from', '--pull=never', '--quiet', '--name', name, image]);
  containers.push(name);
  return name;
}

/**
 * buildah's --cap-add adds to its default set (CHOWN, DAC_OVERRIDE, SETUID, ... eleven of them),
 * and `--cap-drop ALL` wins over any --cap-add; so drop each default by name instead.
 */
async function capabilityFlags(container: string, keep: string[]): Promise<string[]> {
  const info = JSON.parse(await sh(['buildah', 'inspect', container])) as { Capabilities: string[] };
  const drop = info.Capabilities.filter((c) => !keep.includes(c));
  return [...drop.flatMap((c) => ['--cap-drop', c]), ...keep.flatMap((c) => ['--cap-add', c])];
}

function runArgs(ns: string, container: string, caps: string[], env: Record<string, string>, command: string[]): string[] {
  return [
    'netns', 'exec', ns,
    'buildah', 'run', '--isolation', 'chroot', '--network', 'host', ...caps,
    ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    container, '--', ...command,
  ];
}

interface Run {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  ms: number;
}
async function runInPod(ns: string, container: string, caps: string[], env: Record<string, string>, command = entrypoint): Promise<Run> {
  const started = performance.now();
  const result = await execa('ip', runArgs(ns, container, caps, env, command), { reject: false, timeout: 60_000 });
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, ms: performance.now() - started };
}

const capMask = (status: string, field: string): bigint => {
  const line = status.split('\n').find((l) => l.startsWith(`${field}:`));
  return line ? BigInt(`0x${line.slice(field.length + 1).trim()}`) : -1n;
};

/** Files the run left in the container's writable layer, apart from those buildah itself makes. */
async function writtenFiles(container: string): Promise<string[]> {
  const mountPoint = (await sh(['buildah', 'mount', container])).trim();
  try {
    const line = readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === mountPoint);
    const upper = line?.match(/upperdir=([^,\s]+)/)?.[1];
    if (!upper) throw new Error(`no overlay upper directory for ${mountPoint}`);
    const found: string[] = [];
    const walk = (dir: string, rel: string) => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        const relPath = `${rel}/${entry}`;
        if (lstatSync(path).isDirectory()) walk(path, relPath);
        else found.push(relPath);
      }
    };
    walk(upper, '');
    // buildah run's own mount points and marker.
    const buildahOwn = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/run/.containerenv']);
    return found.filter((f) => !buildahOwn.has(f));
  } finally {
    await execa('buildah', ['umount', container], { reject: false });
  }
}

/**
 * The process below `pid` running `command` with `needle` in its arguments: below buildah run come
 * buildah-chroot-runtime, then buildah-chroot-exec (whose arguments hold the command too), then it.
 */
function findDescendant(pid: number, command: string, needle: string): number | undefined {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone already
    }
  }
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const candidate = queue.shift()!;
    try {
      const comm = readFileSync(`/proc/${candidate}/comm`, 'utf8').trim();
      if (comm === command && readFileSync(`/proc/${candidate}/cmdline`, 'utf8').includes(needle)) return candidate;
    } catch {
      // gone already
    }
    queue.push(...(children.get(candidate) ?? []));
  }
  return undefined;
}

// ---- the scenarios ---------------------------------------------------------------------------

const topologies: Topology[] = [];
const children: ResultPromise[] = [];

async function podTopology(): Promise<Topology> {
  const topology = await Topology.create();
  topologies.push(topology);
  // The pod's forwarding must be on already: in the container /proc/sys is read-only, as in a pod.
  await topology.exec(topology.ns.router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  await topology.startServers(topology.ns.lan, SERVERS);
  return topology;
}

/** Makes the LAN learn addresses from gratuitous ARP, so that the announcements can be seen. */
async function watchAnnouncements(topology: Topology): Promise<void> {
  await topology.exec(topology.ns.lan, ['sysctl', '-qw', 'net.ipv4.conf.lan0.arp_accept=1']);
}

/** Whether the LAN learnt EGRESS_SOURCE at the router's macvlan0 address before any traffic. */
async function announced(topology: Topology): Promise<{ ok: boolean; detail: string }> {
  const link = JSON.parse(await topology.exec(topology.ns.router, ['ip', '-j', 'link', 'show', 'macvlan0'])) as { address: string }[];
  const mac = link[0]?.address;
  let detail = '';
  for (let i = 0; i < 50; i++) {
    detail = await topology.exec(topology.ns.lan, ['ip', 'neigh', 'show', SOURCE, 'dev', 'lan0']);
    if (mac && detail.includes(`lladdr ${mac}`)) return { ok: true, detail };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { ok: false, detail: `macvlan0 ${mac}; lan neighbours: ${detail || '(none)'}` };
}

/** Ends a scenario: its namespaces go at once, not at the end of the whole check. */
async function done(topology: Topology): Promise<void> {
  topologies.splice(topologies.indexOf(topology), 1);
  await topology.destroy();
}

const runSummary = (run: Run) =>
  `exit ${run.exitCode} in ${Math.round(run.ms)} ms\nstdout: ${run.stdout.slice(-2000)}\nstderr: ${run.stderr.slice(-2000)}`;

async function main(): Promise<void> {
  log(`entrypoint of ${image}: ${JSON.stringify(entrypoint)}`);

  // 1. Exactly NET_ADMIN and NET_RAW, in every set that counts, as the router's own process sees it.
  {
    const topology = await Topology.create();
    topologies.push(topology);
    const container = await newContainer('caps');
    const defaults = await runInPod(topology.ns.router, container, [], {}, ['cat', '/proc/self/status']);
    const addOnly = await runInPod(topology.ns.router, container, WANTED.flatMap((c) => ['--cap-add', c]), {}, ['cat', '/proc/self/status']);
    const caps = await capabilityFlags(container, WANTED);
    const status = await runInPod(topology.ns.router, container, caps, {}, ['node', '-p', "require('fs').readFileSync('/proc/self/status', 'utf8')"]);
    const want = (1n << BigInt(CAP_NET_ADMIN)) | (1n << BigInt(CAP_NET_RAW));
    log(`capabilities: buildah run default CapEff ${capMask(defaults.stdout, 'CapEff').toString(16).padStart(16, '0')}, ` +
      `with only --cap-add ${capMask(addOnly.stdout, 'CapEff').toString(16).padStart(16, '0')} (adds to the default set), ` +
      `with ${caps.filter((c) => c.startsWith('CAP_')).length - WANTED.length} defaults dropped ${capMask(status.stdout, 'CapEff').toString(16).padStart(16, '0')}`);
    check(status.exitCode === 0, 'node runs in the image', runSummary(status));
    const sets = ['CapEff', 'CapPrm', 'CapBnd'].map((f) => [f, capMask(status.stdout, f)] as const);
    check(sets.every(([, m]) => m === want), 'the container holds exactly CAP_NET_ADMIN and CAP_NET_RAW (CapEff, CapPrm and CapBnd = 0000000000003000)',
      sets.map(([f, m]) => `${f} ${m.toString(16)}`).join(', '));
    check(capMask(status.stdout, 'CapAmb') === 0n && capMask(status.stdout, 'CapInh') === 0n, 'no inheritable or ambient capabilities');
    check(status.stdout.split('\n').some((l) => /^Uid:\s+0\s/.test(l)), 'it runs as root (uid 0)');
    const procSys = await runInPod(topology.ns.router, container, caps, {}, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    check(procSys.exitCode !== 0, '/proc/sys is read-only in the container, as in an unprivileged pod', runSummary(procSys));
    const noNpm = await runInPod(topology.ns.router, container, caps, {}, ['sh', '-c', 'command -v npm npx corepack yarn; ls /usr/local/lib/node_modules 2>/dev/null; true']);
    check(noNpm.stdout.trim() === '', 'no npm, npx, corepack or yarn in the image', noNpm.stdout);
    const version = await runInPod(topology.ns.router, container, caps, {}, [...entrypoint, '--version']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    check(version.stdout.trim() === `egress-router ${pkg.version}`, `--version prints egress-router ${pkg.version}`, runSummary(version));
    await done(topology);
  }

  // 2. Without NET_ADMIN it refuses clearly and changes nothing.
  {
    const topology = await podTopology();
    const container = await newContainer('no-admin');
    const before = await topology.routerState();
    const run = await runInPod(topology.ns.router, container, await capabilityFlags(container, ['CAP_NET_RAW']),
      routerEnv({ EGRESS_DESTINATION: DESTINATIONS }));
    check(run.exitCode === 2 && run.stderr.includes('capability CAP_NET_ADMIN'), 'without NET_ADMIN: exit 2, naming CAP_NET_ADMIN', runSummary(run));
    check((await topology.routerState()) === before, 'without NET_ADMIN: the namespace is left as it was');
    await done(topology);
  }

  // 3. The nftables backend: redirects, remote port, fallback, source address; then a restart.
  const caps = async (container: string) => capabilityFlags(container, WANTED);
  {
    const topology = await podTopology();
    const container = await newContainer('nftables');
    const flags = await caps(container);
    const env = routerEnv({ EGRESS_DESTINATION: DESTINATIONS, EGRESS_ROUTER_FIREWALL: 'nftables' });
    await watchAnnouncements(topology);
    const run = await runInPod(topology.ns.router, container, flags, env);
    log(`nftables: init run took ${Math.round(run.ms)} ms (buildah run included)`);
    check(run.exitCode === 0 && run.stderr === '', 'nftables: init mode exits 0 with nothing on stderr', runSummary(run));
    const arp = await announced(topology);
    check(arp.ok, 'nftables: the LAN learnt EGRESS_SOURCE from the gratuitous ARP (arping works with NET_RAW)', arp.detail);
    const results = await topology.probe(TARGETS);
    check(JSON.stringify(results.map((r) => r.reply)) === JSON.stringify(EXPECTED),
      'nftables: TCP and UDP redirects, remote port 8080->80 and the fallback answer, each seen from EGRESS_SOURCE',
      JSON.stringify(results, null, 1));
    const ruleset = await topology.exec(topology.ns.router, ['nft', 'list', 'ruleset']);
    check(ruleset.includes(`snat`) && ruleset.includes(SOURCE), 'nftables: the ruleset SNATs to EGRESS_SOURCE', ruleset);

    const first = await topology.routerState();
    const again = await runInPod(topology.ns.router, container, flags, env);
    check(again.exitCode === 0, 'nftables: a restarted pod runs again', runSummary(again));
    check((await topology.routerState()) === first, 'nftables: the restart converges to the same state, nothing duplicated');
    const after = await topology.probe([`tcp:${POD}:80`]);
    check(after[0]?.reply === `${SOURCE} ${D1}:80`, 'nftables: traffic still flows after the restart', JSON.stringify(after));

    const written = await writtenFiles(container);
    check(written.length === 0, 'the router wrote nothing to the container file system (readOnlyRootFilesystem works)', written.join('\n'));
    await done(topology);
  }

  // 4. The iptables backend, under no_new_privs as with allowPrivilegeEscalation: false (arping
  //    carries a file capability; it must still run); then legacy mode stopping on SIGTERM.
  {
    const topology = await podTopology();
    const container = await newContainer('iptables');
    const flags = await caps(container);
    const env = routerEnv({ EGRESS_DESTINATION: DESTINATIONS, EGRESS_ROUTER_FIREWALL: 'iptables' });
    await watchAnnouncements(topology);
    const run = await runInPod(topology.ns.router, container, flags, env, ['setpriv', '--no-new-privs', '--', ...entrypoint]);
    check(run.exitCode === 0 && run.stderr === '', 'iptables, no_new_privs: init mode exits 0 with nothing on stderr', runSummary(run));
    const arp = await announced(topology);
    check(arp.ok, 'iptables, no_new_privs: the LAN learnt EGRESS_SOURCE from the gratuitous ARP', arp.detail);
    const results = await topology.probe(TARGETS);
    check(JSON.stringify(results.map((r) => r.reply)) === JSON.stringify(EXPECTED),
      'iptables, no_new_privs: TCP and UDP redirects, remote port and the fallback answer, each seen from EGRESS_SOURCE',
      JSON.stringify(results, null, 1));
    await done(topology);
  }
  {
    const topology = await podTopology();
    const container = await newContainer('legacy');
    const flags = await caps(container);
    const env = routerEnv({ EGRESS_ROUTER_MODE: 'legacy', EGRESS_DESTINATION: `80 tcp ${D1}\n${D3}` });
    const child = execa('ip', runArgs(topology.ns.router, container, flags, env, entrypoint), { reject: false });
    children.push(child);
    const ready = await waitForOutput(child, 'egress router ready', 'legacy mode', 30_000).then(
      () => '',
      (error: Error) => error.message,
    );
    check(ready === '' && child.exitCode === null, 'legacy: the container stays up after configuring', ready);
    const results = await topology.probe([`tcp:${POD}:80`, `tcp:${POD}:9999`]);
    check(results[0]?.reply === `${SOURCE} ${D1}:80` && results[1]?.reply === `${SOURCE} ${D3}:9999`,
      'legacy: traffic flows while it runs', JSON.stringify(results));
    // As the kubelet does: SIGTERM to the container's main process. (buildah run itself does not
    // forward SIGTERM; it kills its command outright.)
    const router = child.pid === undefined ? undefined : findDescendant(child.pid, 'node', 'egress-router.js');
    check(router !== undefined, 'legacy: found the router process inside the container');
    const signalled = performance.now();
    if (router !== undefined) process.kill(router, 'SIGTERM');
    const result = await Promise.race([child, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000))]);
    const ms = performance.now() - signalled;
    check(result?.exitCode === 0 && ms < 1000, `legacy: SIGTERM to the entrypoint stops it with exit 0 within a second (${Math.round(ms)} ms)`,
      result ? `exit ${result.exitCode} signal ${result.signal}\n${result.stderr}` : 'still running after 5 s');
  }
}

/**
 * The HTTP proxy pod: the legacy proxy container with only its image changed, run unprivileged
 * (user 65534, every capability dropped, no_new_privs), after the image configured the network.
 */
async function httpProxyPod(): Promise<void> {
  const topology = await podTopology();
  const init = await newContainer('http-init');
  const network = await runInPod(topology.ns.router, init, await capabilityFlags(init, WANTED), routerEnv({ EGRESS_ROUTER_MODE: 'http-proxy' }));
  check(network.exitCode === 0, 'http-proxy: the init container configures the network and exits 0', runSummary(network));
  const server = execa('ip', ['netns', 'exec', topology.ns.lan, process.execPath, join(ROOT, 'test/fixtures/http-server.mjs'), `http:${D1}:8000`], { reject: false });
  children.push(server);
  await waitForOutput(server, 'ready', 'HTTP destination');

  const container = await newContainer('http-proxy');
  const env = { EGRESS_HTTP_PROXY_DESTINATION: `# the legacy squid container's variable, nothing else\n${D1}/32\n` };
  const args = runArgs(topology.ns.router, container, await capabilityFlags(container, []), env, ['setpriv', '--no-new-privs', '--', ...entrypoint]);
  // buildah run's own --user, right after `run`: the process starts as 65534 and never was root.
  args.splice(args.indexOf('run') + 1, 0, '--user', '65534:65534');
  const proxy = execa('ip', args, { reject: false });
  children.push(proxy);
  const ready = await waitForOutput(proxy, 'http proxy ready', 'http proxy', 30_000).then(
    () => '',
    (error: Error) => error.message,
  );
  check(ready === '', 'http-proxy: the proxy container starts from the image with only EGRESS_HTTP_PROXY_DESTINATION', ready);
  const node = proxy.pid === undefined ? undefined : findDescendant(proxy.pid, 'node', 'egress-router.js');
  const status = node === undefined ? '' : readFileSync(`/proc/${node}/status`, 'utf8');
  check(/^Uid:\s+65534\s/m.test(status) && capMask(status, 'CapEff') === 0n && capMask(status, 'CapPrm') === 0n,
    'http-proxy: the proxy runs as user 65534 with no capability', status.split('\n').filter((l) => /^(Uid|Cap)/.test(l)).join('\n'));
  const client = await topology.exec(topology.ns.client, [process.execPath, join(ROOT, 'test/fixtures/http-proxy-client.mjs'),
    JSON.stringify({ proxy: `${POD}:8080`, steps: [{ get: `http://${D1}:8000/through-the-image` }, { get: `http://${D3}:8000/denied` }] })]);
  const [allowed, denied] = JSON.parse(client) as { status?: number; body?: string }[];
  const seen = allowed?.status === 200 ? (JSON.parse(allowed.body!) as { peer: string }) : undefined;
  check(seen?.peer === SOURCE && denied?.status === 403, 'http-proxy: an allowed request leaves from EGRESS_SOURCE, a denied one gets 403', client);
  if (node !== undefined) process.kill(node, 'SIGTERM');
  const result = await Promise.race([proxy, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000))]);
  check(result?.exitCode === 0, 'http-proxy: SIGTERM stops the proxy with exit 0', result ? `exit ${result.exitCode}\n${result.stderr}` : 'still running after 5 s');
  await done(topology);
}

try {
  await main();
  await httpProxyPod();
} catch (error) {
  failures++;
  log(`FAIL ${(error as Error).stack ?? String(error)}`);
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.allSettled(children);
  for (const topology of topologies) await topology.destroy();
  for (const container of containers) await execa('buildah', ['rm', container], { reject: false });
}
log(failures === 0 ? 'traffic check passed' : `traffic check: ${failures} failure(s)`);
process.exitCode = failures === 0 ? 0 : 1;
