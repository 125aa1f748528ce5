/**
 * EGRESS_DESTINATION_FILE on a real file system: every way a file can fail to be a readable list
 * ends in one clear problem that names the variable and the path, and large or CRLF files are
 * read and judged like inline lists. Root reads any file whatever its mode, so "unreadable" here
 * means what stops root too: no file, a dangling or looping link, a directory, a FIFO, a device.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { destinationText } from '../../src/config/destinations.js';
import { MAX_FILE_BYTES, readTextFile } from '../../src/system/files.js';
import { formatProblem } from '../../src/problem.js';
import { MAX_RULES, bigList, replaceLine } from './fuzz/big-list.js';

const BASE = { EGRESS_SOURCE: '192.168.12.99/24', EGRESS_GATEWAY: '192.168.12.1', EGRESS_ROUTER_MODE: 'init' };
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'egress-router-files-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** parseConfig with the real file reader; the problems formatted as the CLI prints them. */
function configFrom(path: string) {
  const result = parseConfig({ ...BASE, EGRESS_DESTINATION_FILE: path }, readTextFile);
  return { result, lines: result.ok ? [] : result.problems.map(formatProblem) };
}

/** Expects the file to be refused with exactly this reason, in one line naming the path. */
function expectUnreadable(path: string, reason: string): void {
  const read = readTextFile(path);
  expect(read).toEqual({ ok: false, reason });
  const { lines } = configFrom(path);
  expect(lines).toEqual([`EGRESS_DESTINATION_FILE '${path}': ${reason}`]);
}

describe('a missing or unreadable EGRESS_DESTINATION_FILE', () => {
  it('a missing file: no such file', () => {
    expectUnreadable(join(dir, 'missing'), 'cannot read: no such file');
  });

  it('a dangling symbolic link (a ConfigMap key that went away): no such file', () => {
    const link = join(dir, 'dangling');
    symlinkSync(join(dir, 'gone'), link);
    expectUnreadable(link, 'cannot read: no such file');
  });

  it('a symbolic link loop: too many symbolic links', () => {
    symlinkSync(join(dir, 'loop-b'), join(dir, 'loop-a'));
    symlinkSync(join(dir, 'loop-a'), join(dir, 'loop-b'));
    expectUnreadable(join(dir, 'loop-a'), 'cannot read: too many symbolic links');
  });

  it('a directory (the ConfigMap mount instead of its key): it is a directory', () => {
    mkdirSync(join(dir, 'mount'));
    expectUnreadable(join(dir, 'mount'), 'cannot read: it is a directory');
  });

  it('a path through a regular file: a part of the path is not a directory', () => {
    writeFileSync(join(dir, 'plain'), '80 tcp 203.0.113.25\n');
    expectUnreadable(join(dir, 'plain', 'destinations'), 'cannot read: a part of the path is not a directory');
  });

  it('a path too long for the kernel: refused without repeating the path in the reason', () => {
    const long = join(dir, 'x'.repeat(5000));
    const read = readTextFile(long);
    expect(read).toEqual({ ok: false, reason: 'cannot read: the path is too long' });
  });

  it('a path with a NUL byte: refused, not passed to the system', () => {
    expect(readTextFile(`${dir}/a\u0000b`)).toEqual({ ok: false, reason: 'cannot read: the path contains a NUL byte' });
  });

  describe('a FIFO', () => {
    let writer: ChildProcess | undefined;
    afterAll(() => {
      if (writer?.exitCode === null) writer.kill();
    });

    it('is refused at once instead of blocking the start until something writes to it', () => {
      const fifo = join(dir, 'fifo');
      const made = spawn('mkfifo', [fifo], { stdio: 'ignore' });
      return new Promise<void>((resolve, reject) => {
        made.on('error', reject);
        made.on('exit', (code) => {
          try {
            expect(code).toBe(0);
            // Should the reader block, this writer ends the wait after 3 s so that the test
            // fails on its clock instead of hanging the run.
            writer = spawn('sh', ['-c', `sleep 3; : > '${fifo}'`], { stdio: 'ignore' });
            const started = performance.now();
            expectUnreadable(fifo, 'cannot read: it is a FIFO, not a regular file');
            expect(performance.now() - started).toBeLessThan(1000);
            resolve();
          } catch (error) {
            reject(error as Error);
          }
        });
      });
    });
  });

  it('a character device (/dev/null reads empty, /dev/zero never ends): not a regular file', () => {
    expectUnreadable('/dev/null', 'cannot read: it is a character device, not a regular file');
  });

  it('a file over the size limit is refused before it is read', () => {
    const huge = join(dir, 'huge');
    writeFileSync(huge, '');
    truncateSync(huge, MAX_FILE_BYTES + 1); // sparse: costs no disk
    expectUnreadable(huge, `cannot read: ${MAX_FILE_BYTES + 1} bytes is over the ${MAX_FILE_BYTES}-byte limit`);
  });

  it('a ConfigMap-style mount (key -> ..data/key -> timestamped dir) is read through its links', () => {
    const mount = join(dir, 'configmap');
    mkdirSync(join(mount, '..2026_01_01'), { recursive: true });
    writeFileSync(join(mount, '..2026_01_01', 'destinations'), '80 tcp 203.0.113.25\n');
    symlinkSync('..2026_01_01', join(mount, '..data'));
    symlinkSync('..data/destinations', join(mount, 'destinations'));
    const { result } = configFrom(join(mount, 'destinations'));
    expect(result.ok && result.value.destinations?.redirects.map((r) => r.port)).toEqual([80]);
  });
});

describe('large and CRLF files', () => {
  const TEN_MB = 10 * 1024 * 1024;
  let list: ReturnType<typeof bigList>;
  beforeAll(() => {
    list = bigList(TEN_MB, { crlf: true });
  });

  it('a 10 MB CRLF file of distinct rules is read and accepted whole, in reasonable time', () => {
    const path = join(dir, 'big-valid');
    writeFileSync(path, list.text);
    expect(list.text.length).toBeGreaterThanOrEqual(TEN_MB);
    expect(list.lines).toBeLessThanOrEqual(MAX_RULES);
    const started = performance.now();
    const { result, lines } = configFrom(path);
    expect(lines).toEqual([]);
    expect(performance.now() - started).toBeLessThan(10_000);
    if (!result.ok) return;
    const rules = result.value.destinations!.redirects;
    expect(rules).toHaveLength(list.lines);
    for (const n of [1, 65536, list.lines]) {
      const rule = rules[n - 1]!;
      expect(`${rule.port}/${rule.protocol} -> ${destinationText(rule.target)}:${rule.targetPort}`).toBe(list.rule(n));
      expect(rule.line).toBe(n);
    }
  });

  it('a 10 MB file with one bad line deep inside: exactly that line is reported, with the file name', () => {
    const path = join(dir, 'big-one-bad');
    const bad = Math.floor(list.lines * 0.73);
    writeFileSync(path, replaceLine(list.text, bad, '4242 tcp 203.0.113.08 # a leading zero'));
    const started = performance.now();
    const { lines } = configFrom(path);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith(`EGRESS_DESTINATION_FILE ${path} line ${bad}: invalid address '203.0.113.08': leading zeros`)).toBe(true);
    expect(lines[0]).toContain("(in '4242 tcp 203.0.113.08 # a leading zero')");
  });
});
