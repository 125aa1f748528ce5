/** Reading the long-running router's inputs: files to follow, the change hash, the status port. */
import { describe, expect, it } from 'vitest';
import type { ReadFile } from '../../src/config/config.js';
import { parseConfig } from '../../src/config/config.js';
import { readInputs } from '../../src/live/inputs.js';

const files = (contents: Record<string, string>): ReadFile => (path) =>
  path in contents ? { ok: true, text: contents[path]! } : { ok: false, reason: 'cannot read: no such file' };

const BASE = { EGRESS_SOURCE: '192.168.12.99/24', EGRESS_GATEWAY: '192.168.12.1', EGRESS_ROUTER_MODE: 'legacy' };

describe('readInputs', () => {
  it('names every file the configuration depends on, the env file and the list it names', () => {
    const read = readInputs({ ...BASE, EGRESS_ROUTER_ENV_FILE: '/cfg/env' }, files({ '/cfg/env': 'EGRESS_DESTINATION_FILE=/cfg/list\n', '/cfg/list': '80 tcp 203.0.113.25\n' }));
    expect(read.files).toEqual(['/cfg/env', '/cfg/list']);
    expect(read.result.ok).toBe(true);
  });

  it('still names the files when the configuration is invalid, so that the fix is noticed', () => {
    const read = readInputs({ ...BASE, EGRESS_DESTINATION_FILE: '/cfg/list' }, files({ '/cfg/list': '80 tcp 999.1.1.1\n' }));
    expect(read.files).toEqual(['/cfg/list']);
    expect(read.result.ok).toBe(false);
  });

  it('gives the same hash for the same inputs and a different one when a file or a variable changes', () => {
    const hash = (env: Record<string, string>, list: string) => {
      const read = readInputs({ ...BASE, ...env, EGRESS_DESTINATION_FILE: '/l' }, files({ '/l': list }));
      if (!read.result.ok) throw new Error('invalid');
      return read.result.value.hash;
    };
    const a = hash({}, '80 tcp 203.0.113.25\n');
    expect(hash({}, '80 tcp 203.0.113.25\n')).toBe(a);
    expect(hash({}, '80 tcp 203.0.113.26\n')).not.toBe(a);
    expect(hash({ EGRESS_GATEWAY: '192.168.12.2' }, '80 tcp 203.0.113.25\n')).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('the status endpoint port', () => {
  const config = (env: Record<string, string>) => parseConfig({ ...BASE, EGRESS_DESTINATION: '80 tcp 203.0.113.25', ...env }, files({}));

  it('defaults to 9552 in the long-running modes and is off in init mode', () => {
    const legacy = config({});
    const init = config({ EGRESS_ROUTER_MODE: 'init' });
    expect(legacy.ok && legacy.value.statusPort).toBe(9552);
    expect(init.ok && init.value.statusPort).toBe(0);
  });

  it('is turned off with 0 or off, and refuses anything that is not a port', () => {
    expect(config({ EGRESS_ROUTER_STATUS_PORT: 'off' })).toMatchObject({ ok: true, value: { statusPort: 0 } });
    expect(config({ EGRESS_ROUTER_STATUS_PORT: '0' })).toMatchObject({ ok: true, value: { statusPort: 0 } });
    expect(config({ EGRESS_ROUTER_STATUS_PORT: '70000' })).toMatchObject({
      ok: false,
      problems: [{ where: 'EGRESS_ROUTER_STATUS_PORT', message: expect.stringContaining("invalid value '70000'") }],
    });
  });

  it('refuses a redirect of the status port over TCP, naming the line, but not over UDP', () => {
    const clash = config({ EGRESS_DESTINATION: '53 udp 203.0.113.25\n9552 tcp 203.0.113.25' });
    expect(clash).toMatchObject({ ok: false, problems: [{ where: 'EGRESS_DESTINATION line 2', message: expect.stringContaining("status endpoint's") }] });
    expect(config({ EGRESS_DESTINATION: '9552 udp 203.0.113.25' }).ok).toBe(true);
    expect(config({ EGRESS_DESTINATION: '9552 tcp 203.0.113.25', EGRESS_ROUTER_STATUS_PORT: '9000' }).ok).toBe(true);
    expect(config({ EGRESS_DESTINATION: '9552 tcp 203.0.113.25', EGRESS_ROUTER_MODE: 'init' }).ok).toBe(true);
  });
});
