/**
 * The built command line for the DNS proxy, without privileges: unit-test mode of the legacy
 * container, `validate --dns-proxy`, and the refusals that stop a run before anything starts.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ENTRY } from '../../support/topology.js';

function run(args: string[], env: Record<string, string> = {}, input?: string) {
  return execa(process.execPath, [ENTRY, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, extendEnv: false, reject: false, input });
}

const LIST = '# legacy list\n80 11.12.13.14\n8080 example.com 100\n';

describe('the legacy DNS proxy container, recognized with no command', () => {
  it('prints the rules understood in unit-test mode, and exits 0', async () => {
    const result = await run([], { EGRESS_DNS_PROXY_MODE: 'unit-test', EGRESS_DNS_PROXY_DESTINATION: LIST });
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toEqual([
      'line 2: tcp port 80 -> 11.12.13.14:80',
      'line 3: tcp port 8080 -> example.com:100 (every IPv4 address of the name)',
      'EGRESS_DNS_PROXY_DESTINATION: OK, 2 rules (1 by name), IPv4, TCP',
    ]);
  });

  it('prints every error in unit-test mode, and exits 1', async () => {
    const result = await run([], { EGRESS_DNS_PROXY_MODE: 'unit-test', EGRESS_DNS_PROXY_DESTINATION: '99999 11.12.13.14\n80 11.12.13.14\n80 21.22.23.24 100\n8080 invalid' });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toEqual([
      "egress-router: EGRESS_DNS_PROXY_DESTINATION line 1: Invalid port: 99999, must be in the range 1 to 65535 (in '99999 11.12.13.14')",
      "egress-router: EGRESS_DNS_PROXY_DESTINATION line 3: Proxy port 80 already used, must be unique for each destination (first used on line 2) (in '80 21.22.23.24 100')",
      "egress-router: EGRESS_DNS_PROXY_DESTINATION line 4: Bad destination: invalid name 'invalid': a name needs at least one dot (single-label names are not resolved) (in '8080 invalid')",
    ]);
  });

  it('refuses an empty list with the legacy message', async () => {
    const result = await run([], { EGRESS_DNS_PROXY_MODE: 'unit-test', EGRESS_DNS_PROXY_DESTINATION: '' });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('egress-router: Must specify EGRESS_DNS_PROXY_DESTINATION (or EGRESS_DNS_PROXY_DESTINATION_FILE)');
  });

  it('is also what `egress-router dns-proxy` runs', async () => {
    const result = await run(['dns-proxy'], { EGRESS_DNS_PROXY_MODE: 'unit-test', EGRESS_DNS_PROXY_DESTINATION: '80 11.12.13.14' });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('line 1: tcp port 80 -> 11.12.13.14:80');
    expect((await run(['dns-proxy', 'extra'])).stderr).toContain('dns-proxy takes no arguments');
  });

  it('leaves a run with EGRESS_SOURCE to the router', async () => {
    const result = await run([], { EGRESS_SOURCE: '192.168.12.99/24', EGRESS_DNS_PROXY_DESTINATION: '80 11.12.13.14', EGRESS_ROUTER_MODE: 'unit-test' });
    expect(result.stderr).toContain('EGRESS_GATEWAY: unspecified');
  });
});

describe('egress-router validate --dns-proxy', () => {
  it('prints the rules understood from standard input', async () => {
    const result = await run(['validate', '--dns-proxy', '-'], {}, LIST);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n').pop()).toBe('stdin: OK, 2 rules (1 by name), IPv4, TCP');
  });

  it('checks the list the environment names', async () => {
    const result = await run(['validate', '--dns-proxy'], { EGRESS_DNS_PROXY_DESTINATION: '80 invalid' });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('EGRESS_DNS_PROXY_DESTINATION line 1: Bad destination: invalid name');
  });

  it('reports a file it cannot read, and a list with no rules', async () => {
    expect((await run(['validate', '--dns-proxy', '/nonexistent/list'])).stderr).toBe("egress-router: '/nonexistent/list': cannot read: no such file");
    expect((await run(['validate', '--dns-proxy', '-'], {}, '# nothing\n')).stderr).toBe('egress-router: stdin: has no rules, only comments or blank lines');
  });

  it('takes --dns-proxy with validate only', async () => {
    const result = await run(['--dns-proxy']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('--dns-proxy goes with validate');
  });
});
