/**
 * The built command line, run as an administrator would, without privileges: commands that
 * change nothing (validate, unit-test mode, help) and configuration errors, which must stop the
 * run before anything is probed or changed.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ENTRY } from '../support/topology.js';

const LIST = '80 tcp 203.0.113.25\n8080 tcp 203.0.113.26 80\n203.0.113.27\n';
const BASE = { EGRESS_SOURCE: '192.168.12.99/24', EGRESS_GATEWAY: '192.168.12.1' };

function run(args: string[], env: Record<string, string> = {}, input?: string) {
  return execa(process.execPath, [ENTRY, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, extendEnv: false, reject: false, input });
}

describe('egress-router validate', () => {
  it('prints the rules it understood from standard input', async () => {
    const result = await run(['validate', '-'], {}, LIST);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      'line 1: tcp port 80 -> 203.0.113.25:80',
      'line 2: tcp port 8080 -> 203.0.113.26:80',
      'line 3: fallback, everything else -> 203.0.113.27',
      'stdin: OK, 2 redirects and a fallback, IPv4',
    ]);
  });

  it('prints names as written and says they are resolved when the router runs', async () => {
    const result = await run(['validate', '-'], {}, '80 tcp DB.example.com 5432\nbackup.example.com.\n');
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      'line 1: tcp port 80 -> db.example.com:5432',
      'line 2: fallback, everything else -> backup.example.com',
      'stdin: OK, 1 redirect and a fallback, no addresses, 2 destinations by name (resolved when the router runs)',
    ]);
  });

  it('prints each error with its line number and exits 1', async () => {
    const result = await run(['validate', '-'], {}, '80 tcp 203.0.113.25\n80 tcp 203.0.113.26\n70000 udp 203.0.113.26\n');
    expect(result.exitCode).toBe(1);
    expect(result.stderr.split('\n')).toEqual([
      "egress-router: stdin line 2: local port 80/tcp is already used on line 1; each port and protocol may be redirected once (in '80 tcp 203.0.113.26')",
      "egress-router: stdin line 3: invalid port '70000', must be a number from 1 to 65535 (in '70000 udp 203.0.113.26')",
    ]);
  });

  it('checks the list the environment names, against the family of EGRESS_SOURCE', async () => {
    const result = await run(['validate'], { EGRESS_SOURCE: '2001:db8::99', EGRESS_DESTINATION: '80 tcp 203.0.113.25' });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('EGRESS_DESTINATION line 1: IPv4 destination 203.0.113.25 does not match the IPv6 family of the source address');
  });

  it('reports a file it cannot read', async () => {
    const result = await run(['validate', '/nonexistent/list']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("egress-router: '/nonexistent/list': cannot read: no such file");
  });
});

describe('the entrypoint', () => {
  it('prints the nftables ruleset in unit-test mode and changes nothing', async () => {
    const result = await run([], { ...BASE, EGRESS_DESTINATION: LIST, EGRESS_ROUTER_MODE: 'unit-test' });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('tcp . 8080 : 203.0.113.26 . 80');
    expect(result.stdout).toContain('dnat ip to 203.0.113.27');
  });

  it('prints a rule whose name is not resolved as refusing connections, not as going to the fallback', async () => {
    const result = await run([], { ...BASE, EGRESS_DESTINATION: '5432 tcp db.example.com\n203.0.113.27', EGRESS_ROUTER_MODE: 'unit-test' });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('tcp . 5432 : accept');
  });

  it('prints the iptables rules in unit-test mode with EGRESS_ROUTER_FIREWALL=iptables', async () => {
    const result = await run([], { ...BASE, EGRESS_DESTINATION: LIST, EGRESS_ROUTER_MODE: 'unit-test', EGRESS_ROUTER_FIREWALL: 'iptables' });
    expect(result.stdout).toContain('-A EGRESS-ROUTER-PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 203.0.113.26:80');
  });

  it('exits 1 with one line per configuration problem, before probing anything', async () => {
    const result = await run([], { EGRESS_SOURCE: '192.168.12.99/24', EGRESS_DESTINATION: '80 tcp 999.1.1.1', EGRESS_ROUTER_MODE: 'bogus' });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toEqual([
      "egress-router: EGRESS_ROUTER_MODE: unrecognized value 'bogus'; expected one of init, legacy, http-proxy, dns-proxy, unit-test",
      'egress-router: EGRESS_GATEWAY: unspecified',
      "egress-router: EGRESS_DESTINATION line 1: invalid address '999.1.1.1': not a valid IPv4 or IPv6 address (in '80 tcp 999.1.1.1')",
    ]);
  });

  it('rejects unknown commands and options with usage', async () => {
    const command = await run(['frobnicate']);
    expect(command.exitCode).toBe(1);
    expect(command.stderr).toContain("unknown command 'frobnicate'");
    const option = await run(['--frobnicate']);
    expect(option.exitCode).toBe(1);
    expect(option.stderr).toContain('Usage:');
  });

  it('prints help and version', async () => {
    expect((await run(['--help'])).stdout).toContain('egress-router validate [FILE|-]');
    expect((await run(['--version'])).stdout).toMatch(/^egress-router \d+\.\d+\.\d+$/);
  });
});
