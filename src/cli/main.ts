#!/usr/bin/env node
/**
 * The command line. With no command it is the pod entrypoint; `validate` checks a destination
 * list; `migrate` converts legacy egress router manifests. Problems become one line each on
 * stderr and an exit code: 1 invalid configuration, 2 unsuitable pod, 3 a change failed.
 */
import { parseArgs } from 'node:util';
import { runEntrypoint, type Output } from '../entrypoint.js';
import { runValidate, runValidateHttpProxy } from '../commands/validate.js';
import { isSet } from '../config/config.js';
import { hasProxyList } from '../http-proxy/settings.js';
import { formatProblem } from '../problem.js';
import { VERSION } from '../version.js';
import { isDnsProxyContainer } from '../dns-proxy/settings.js';


const USAGE = `Usage:
  egress-router [--dry-run]          configure this pod (EGRESS_ROUTER_MODE picks what to do)
  egress-router validate [FILE|-]    check a destination list and print the rules understood
  egress-router validate --dns-proxy [FILE|-]
                                     check a DNS proxy list (EGRESS_DNS_PROXY_DESTINATION)
  egress-router dns-proxy            run the DNS proxy (EGRESS_DNS_PROXY_DESTINATION); also what
                                     runs with no command when that is set and EGRESS_SOURCE is not
  egress-router validate --http-proxy FILE|-
                                     check an HTTP proxy list (EGRESS_HTTP_PROXY_DESTINATION)
  egress-router http-proxy           run the HTTP proxy (EGRESS_HTTP_PROXY_* variables); also what
                                     a container with EGRESS_HTTP_PROXY_DESTINATION and no
                                     EGRESS_SOURCE runs with no command
  egress-router migrate [--to egressrouter|multus] [--image IMAGE] FILE...
                                     convert legacy egress router manifests
  egress-router --help | --version

Configuration is read from the environment; see the README for every variable.
`;

const output: Output = {
  out: (text) => process.stdout.write(text),
  problems: (problems) => {
    for (const p of problems) process.stderr.write(`egress-router: ${formatProblem(p)}\n`);
  },
};

async function main(argv: string[]): Promise<number> {
  const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : undefined;
  const rest = command ? argv.slice(1) : argv;
  if (command === 'migrate') {
    const { runMigrate } = await import('../commands/migrate/cli.js');
    return runMigrate(rest, output);
  }
  if (command === 'dns-proxy' || (command === undefined && argv.length === 0 && isDnsProxyContainer(process.env))) {
    if (rest.length > 0) {
      process.stderr.write(`egress-router: dns-proxy takes no arguments\n${USAGE}`);
      return 1;
    }
    const { runDnsProxyContainer } = await import('../dns-proxy/container.js');
    return runDnsProxyContainer(process.env, output);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        'dry-run': { type: 'boolean' },
        'http-proxy': { type: 'string' },
        'dns-proxy': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    process.stderr.write(`egress-router: ${(error as Error).message}\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`egress-router ${VERSION}\n`);
    return 0;
  }
  if (values['dns-proxy'] && command !== 'validate') {
    process.stderr.write(`egress-router: --dns-proxy goes with validate\n${USAGE}`);
    return 1;
  }
  if (values['http-proxy'] !== undefined && command !== 'validate') {
    process.stderr.write(`egress-router: --http-proxy is an option of validate\n${USAGE}`);
    return 1;
  }
  if (command === 'validate') {
    if (values['http-proxy'] !== undefined) {
      if (positionals.length > 0) {
        process.stderr.write(`egress-router: validate --http-proxy takes one FILE (or -), given as its value\n${USAGE}`);
        return 1;
      }
      return runValidateHttpProxy(values['http-proxy'], output);
    }
    if (positionals.length > 1) {
      process.stderr.write(`egress-router: validate takes at most one FILE\n${USAGE}`);
      return 1;
    }
    if (values['dns-proxy']) {
      const { runValidateDnsProxy } = await import('../commands/validate-dns-proxy.js');
      return runValidateDnsProxy(positionals[0], process.env, output);
    }
    return runValidate(positionals[0], process.env, output);
  }
  if (command === 'http-proxy' && positionals.length === 0) return runProxy();
  if (command !== undefined || positionals.length > 0) {
    process.stderr.write(`egress-router: unknown command '${command ?? positionals[0]}'\n${USAGE}`);
    return 1;
  }
  // The legacy proxy container with only its image changed: a proxy list, no router settings.
  if (hasProxyList(process.env) && !isSet(process.env.EGRESS_SOURCE) && !isSet(process.env.EGRESS_ROUTER_MODE) && !values['dry-run']) return runProxy();
  return runEntrypoint(process.env, { dryRun: values['dry-run'] ?? false }, output);
}

/** Loaded only when needed, to keep the router's own start-up small. */
async function runProxy(): Promise<number> {
  const { runHttpProxyContainer } = await import('../http-proxy/container.js');
  return runHttpProxyContainer(process.env, output);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`egress-router: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 70;
  },
);
