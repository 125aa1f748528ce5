/**
 * The HTTP proxy from the built command line, without privileges: unit-test mode, validate
 * --http-proxy, and which program an environment starts (the proxy container is recognized by
 * its list and the absence of EGRESS_SOURCE, as the legacy proxy container was configured).
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ENTRY } from '../support/topology.js';

const LEGACY_LIST = '# commented list\n!*.bad.example.com\n*.example.com\n192.168.0.0/16\nfe80::/10\n';

function run(args: string[], env: Record<string, string> = {}, input?: string) {
  return execa(process.execPath, [ENTRY, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, extendEnv: false, reject: false, input, timeout: 20_000 });
}

describe('EGRESS_HTTP_PROXY_MODE=unit-test', () => {
  it('prints the rules understood and exits 0', async () => {
    const result = await run([], { EGRESS_HTTP_PROXY_MODE: 'unit-test', EGRESS_HTTP_PROXY_DESTINATION: LEGACY_LIST });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      'line 2: deny *.bad.example.com (the name and every name under it)',
      'line 3: allow *.example.com (the name and every name under it)',
      'line 4: allow 192.168.0.0/16 (addresses in the request, or resolved from a requested name)',
      'line 5: allow fe80::/10 (addresses in the request, or resolved from a requested name)',
      'EGRESS_HTTP_PROXY_DESTINATION: OK, 4 rules, everything else is denied',
    ]);
  });

  it('prints every error and exits 1', async () => {
    const result = await run([], { EGRESS_HTTP_PROXY_MODE: 'unit-test', EGRESS_HTTP_PROXY_DESTINATION: 'foo bar\n*\nexample.com', EGRESS_HTTP_PROXY_PORT: 'http' });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toEqual([
      "egress-router: EGRESS_HTTP_PROXY_DESTINATION line 1: bad destination: one name, address or network per line (in 'foo bar')",
      "egress-router: EGRESS_HTTP_PROXY_DESTINATION line 3: a rule follows '*' on line 2; '*' (everything else) must be the last rule (in 'example.com')",
      "egress-router: EGRESS_HTTP_PROXY_PORT: invalid port 'http', must be a number from 1 to 65535",
    ]);
  });
});

describe('egress-router validate --http-proxy', () => {
  it('checks a list from standard input', async () => {
    const result = await run(['validate', '--http-proxy', '-'], {}, '!*.example.net\n*\n');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('line 1: deny *.example.net (the name and every name under it)\nline 2: allow everything else (*)\nstdin: OK, 2 rules, everything else is allowed');
  });

  it('names the file and the line of each error', async () => {
    const result = await run(['validate', '--http-proxy', '/nonexistent/list']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("egress-router: '/nonexistent/list': cannot read: no such file");
    const bad = await run(['validate', '--http-proxy', '-'], {}, 'ok.example.com\n999.1.1.1\n');
    expect(bad.stderr).toBe("egress-router: stdin line 2: invalid address or network '999.1.1.1': not a valid IPv4 or IPv6 address (in '999.1.1.1')");
  });

  it('is an option of validate only', async () => {
    const result = await run(['--http-proxy', '-']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('--http-proxy is an option of validate');
  });
});

describe('which program an environment runs', () => {
  it('a proxy list without EGRESS_SOURCE is the legacy proxy container: the proxy starts (and here finds no eth0)', async () => {
    const result = await run([], { EGRESS_HTTP_PROXY_DESTINATION: '*', EGRESS_ROUTER_CLUSTER_INTERFACE: 'nosuch0' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(
      'egress-router: interface nosuch0: not found in this network namespace; the HTTP proxy listens only on the cluster interface (EGRESS_ROUTER_CLUSTER_INTERFACE)',
    );
  });

  it('egress-router http-proxy runs the proxy whatever else is set', async () => {
    const result = await run(['http-proxy'], { EGRESS_HTTP_PROXY_MODE: 'unit-test', EGRESS_HTTP_PROXY_DESTINATION_FILE: '/nonexistent', EGRESS_SOURCE: '192.168.12.99' });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe("egress-router: EGRESS_HTTP_PROXY_DESTINATION_FILE '/nonexistent': cannot read: no such file");
  });

  it('with EGRESS_SOURCE or EGRESS_ROUTER_MODE it is the router, which leaves the proxy list alone', async () => {
    const result = await run([], { EGRESS_HTTP_PROXY_DESTINATION: '*', EGRESS_ROUTER_MODE: 'http-proxy' });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('egress-router: EGRESS_SOURCE: unspecified\negress-router: EGRESS_GATEWAY: unspecified');
  });
});
