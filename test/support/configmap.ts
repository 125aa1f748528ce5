/**
 * A directory laid out as the kubelet mounts a ConfigMap, and updated as the kubelet updates it:
 * every key is a symbolic link `<key> -> ..data/<key>`, `..data` links to a timestamped
 * directory, and an update writes a new timestamped directory and swaps `..data` to it with one
 * rename, so that a reader sees either the old keys or the new ones, never a mix.
 */
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class ConfigMapDir {
  private generation = 0;
  private current: string | undefined;
  readonly dir: string;

  constructor(keys: Record<string, string>) {
    this.dir = mkdtempSync(join(tmpdir(), 'ert-configmap-'));
    // As the kubelet mounts it: readable by a container's non-root user.
    chmodSync(this.dir, 0o755);
    this.update(keys);
    for (const key of Object.keys(keys)) symlinkSync(join('..data', key), join(this.dir, key));
  }

  path(key: string): string {
    return join(this.dir, key);
  }

  update(keys: Record<string, string>): void {
    const name = `..2026_11_25_00_00_${String(this.generation++).padStart(2, '0')}.${process.pid}`;
    const target = join(this.dir, name);
    mkdirSync(target);
    for (const [key, text] of Object.entries(keys)) writeFileSync(join(target, key), text);
    symlinkSync(name, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.current) rmSync(join(this.dir, this.current), { recursive: true });
    this.current = name;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
