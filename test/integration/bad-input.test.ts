/**
 * Bad input ends in a clear error and no change to the network: the built router runs in a real
 * router namespace with each kind of bad list, exits 1 with one line per problem naming its line,
 * and leaves the namespace exactly as it found it. Nothing may change, so one topology serves
 * every case; the last case proves the comparison sees a change when there is one.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIntegration } from '../support/integration.js';
import { ADDRESSES, Topology, routerEnv } from '../support/topology.js';
import { bigList, replaceLine } from '../unit/fuzz/big-list.js';

const [D1, D2, D3] = ADDRESSES.destinations;
const MB = 1 << 20;

/**
 * routerState() and what it leaves out that the router could also touch: link state (macvlan0
 * has no IPv4 address, so `ip -4 addr` does not show it), IPv6, and the iptables backend.
 */
async function fullState(topology: Topology): Promise<string> {
  const ns = topology.ns.router;
  const extra = await Promise.all([
    topology.exec(ns, ['ip', '-d', 'link', 'show']),
    topology.exec(ns, ['ip', '-6', 'addr', 'show']),
    topology.exec(ns, ['ip', '-6', 'route', 'show', 'table', 'all']),
    topology.exec(ns, ['sysctl', 'net.ipv6.conf.all.forwarding']),
    execa('ip', ['netns', 'exec', ns, 'iptables-save'], { reject: false }).then((r) => r.stdout.replace(/^#.*$/gm, '')),
  ]);
  return [await topology.routerState(), ...extra].join('\n---\n');
}

/** Waits until IPv6 duplicate address detection is over: until then the kernel changes the state itself. */
async function settled(topology: Topology): Promise<void> {
  for (let tries = 0; tries < 50; tries++) {
    if ((await topology.exec(topology.ns.router, ['ip', '-6', 'addr', 'show', 'tentative'])) === '') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('IPv6 addresses of the router namespace still tentative after 5 s');
}

describeIntegration('bad input: a clear error and no change to the network', () => {
  let topology: Topology;
  let dir: string;
  let before: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'egress-router-bad-input-'));
    topology = await Topology.create();
    await settled(topology);
    before = await fullState(topology);
  });
  afterAll(async () => {
    await topology?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  /**
   * Runs the router and expects: exit 1, nothing on stdout, exactly one stderr line per expected
   * problem, each starting with its `where` and containing its fragment, and the namespace as before.
   */
  async function expectRefused(env: Record<string, string>, problems: [where: string, fragment: string][]): Promise<string[]> {
    const run = await topology.runRouter(routerEnv(env));
    const lines = run.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(problems.length);
    problems.forEach(([where, fragment], i) => {
      expect(lines[i]!.startsWith(`egress-router: ${where}: `), lines[i]).toBe(true);
      expect(lines[i]).toContain(fragment);
    });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe('');
    expect(await fullState(topology)).toBe(before);
    return lines;
  }

  it('a NUL byte in a file: the line is named and the NUL shown as \\u0000', async () => {
    const path = file('nul', `80 tcp ${D1}\n8080 tcp ${D2}\u0000 80\n${D3}\n`);
    await expectRefused({ EGRESS_DESTINATION_FILE: path }, [[`EGRESS_DESTINATION_FILE ${path} line 2`, `invalid address '${D2}\\u0000'`]]);
  });

  it('a 1 MB line: named, quoted short', async () => {
    const path = file('huge-line', `80 tcp ${D1}\n${'9'.repeat(MB)}\n`);
    const [line] = await expectRefused({ EGRESS_DESTINATION_FILE: path }, [[`EGRESS_DESTINATION_FILE ${path} line 2`, `…(${MB} characters)'`]]);
    expect(line!.length).toBeLessThan(1000);
  });

  it('a 10 MB file with one bad line deep inside: only that line is reported', async () => {
    const list = bigList(10 * MB);
    const bad = list.lines - 1234;
    const path = file('ten-mb', replaceLine(list.text, bad, `4242 tcp 203.0.113.8e1`));
    await expectRefused({ EGRESS_DESTINATION_FILE: path }, [[`EGRESS_DESTINATION_FILE ${path} line ${bad}`, "invalid address '203.0.113.8e1'"]]);
  });

  it('a missing file: one line naming the variable and the path', async () => {
    const path = join(dir, 'missing');
    await expectRefused({ EGRESS_DESTINATION_FILE: path }, [[`EGRESS_DESTINATION_FILE '${path}'`, 'cannot read: no such file']]);
  });

  it('a FIFO in place of the file: refused at once instead of hanging the pod', async () => {
    const path = join(dir, 'fifo');
    await execa('mkfifo', [path]);
    const started = performance.now();
    await expectRefused({ EGRESS_DESTINATION_FILE: path }, [[`EGRESS_DESTINATION_FILE '${path}'`, 'it is a FIFO, not a regular file']]);
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it('IPv4-mapped IPv6 in EGRESS_DESTINATION', async () => {
    await expectRefused({ EGRESS_DESTINATION: `80 tcp ${D1}\n8080 tcp ::ffff:${D2} 80` }, [['EGRESS_DESTINATION line 2', `invalid address '::ffff:${D2}'`]]);
  });

  it('leading-zero octets in EGRESS_DESTINATION, target and fallback', async () => {
    await expectRefused({ EGRESS_DESTINATION: `80 tcp 203.0.113.025\n203.000.113.27` }, [
      ['EGRESS_DESTINATION line 1', "invalid address '203.0.113.025': leading zeros"],
      ['EGRESS_DESTINATION line 2', "invalid fallback address '203.000.113.27': leading zeros"],
    ]);
  });

  it('a CRLF file with bad ports (sign, exponent, Unicode digit, space): each named, no CR shown', async () => {
    const path = file('crlf', ['# CRLF list', `80 tcp ${D1}`, `8443 tcp ${D2} +443`, `8e1 tcp ${D2}`, `٨٠٨١ tcp ${D2}`, `90 tcp ${D2} 4 43`, D3, ''].join('\r\n'));
    const lines = await expectRefused({ EGRESS_DESTINATION_FILE: path }, [
      [`EGRESS_DESTINATION_FILE ${path} line 3`, "invalid remote port '+443'"],
      [`EGRESS_DESTINATION_FILE ${path} line 4`, "invalid port '8e1'"],
      [`EGRESS_DESTINATION_FILE ${path} line 5`, "invalid port '\\u{668}\\u{660}\\u{668}\\u{661}'"],
      [`EGRESS_DESTINATION_FILE ${path} line 6`, 'got 5 fields'],
    ]);
    for (const line of lines) expect(line).not.toContain('\\r');
  });

  it('the comparison is not blind: a valid list on the same topology does change the namespace', async () => {
    const run = await topology.runRouter(routerEnv({ EGRESS_DESTINATION: `80 tcp ${D1}` }));
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(await fullState(topology)).not.toBe(before);
  });
});
