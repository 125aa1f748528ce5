/** The migrate command line. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_IMAGE, parseMigrateArguments } from '../../../src/commands/migrate/arguments.js';
import { migrate } from './run.js';

describe('migrate arguments', () => {
  it('converts to EgressRouter by default', () => {
    expect(parseMigrateArguments(['a.yaml', 'b.yaml'])).toEqual({
      kind: 'run',
      target: 'egressrouter',
      image: DEFAULT_IMAGE,
      imageIsDefault: true,
      files: ['a.yaml', 'b.yaml'],
    });
  });

  it('takes --to multus with --image, in either spelling, and - for standard input', () => {
    expect(parseMigrateArguments(['--to=multus', '--image', 'quay.io/x/y:1', '-'])).toMatchObject({
      kind: 'run',
      target: 'multus',
      image: 'quay.io/x/y:1',
      imageIsDefault: false,
      files: ['-'],
    });
  });

  it('uses a documented default image for --to multus without --image', () => {
    expect(DEFAULT_IMAGE).toBe('quay.io/egress-router/egress-router:latest');
    expect(parseMigrateArguments(['--to', 'multus', 'a.yaml'])).toMatchObject({ image: DEFAULT_IMAGE, imageIsDefault: true });
  });

  it.each([
    [['--to', 'ovn', 'a.yaml'], "--to 'ovn' is not one of egressrouter, multus"],
    [['--image', 'x', 'a.yaml'], '--image applies to --to multus only'],
    [['--to', 'multus', '--image', ' ', 'a.yaml'], '--image is empty'],
    [[], 'no FILE given'],
    [['-', '-'], 'standard input (-) can be read only once'],
    [['--bogus', 'a.yaml'], "Unknown option '--bogus'"],
  ])('refuses %j with a usage error that points to --help', (args, message) => {
    const parsed = parseMigrateArguments(args);
    expect(parsed.kind).toBe('usage-error');
    expect(parsed.kind === 'usage-error' && parsed.message).toContain(message);
    expect(parsed.kind === 'usage-error' && parsed.message).toContain('see egress-router migrate --help');
  });

  it('prints its usage on stdout for --help and exits 0', async () => {
    const run = await migrate(['--help']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('Usage: egress-router migrate [--to egressrouter|multus] [--image IMAGE] FILE...');
    expect(run.stdout).toContain(DEFAULT_IMAGE);
  });

  it('exits 1 on a usage error, with one line on stderr and nothing on stdout', async () => {
    const run = await migrate(['--to', 'ovn', 'a.yaml']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
