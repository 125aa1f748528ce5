/**
 * Noticing that a configuration file changed, including the way the kubelet updates a mounted
 * ConfigMap: it writes the new keys into a fresh `..<timestamp>` directory and swaps the `..data`
 * symbolic link to it, so the file's path stays the same while the file behind it is replaced.
 *
 * Two mechanisms feed one callback: inotify on each file's directory (fs.watch), which reacts at
 * once but misses changes behind symbolic links in other directories and can be lost on some
 * file systems; and a poll of each path's identity (stat through the links: device, inode, size,
 * modification time) every `pollMs`, which catches everything within that time. The callback is
 * told only that something may have changed; the caller reads and compares the contents.
 */
import { type FSWatcher, statSync, watch } from 'node:fs';
import { dirname } from 'node:path';

export interface FileWatch {
  close(): void;
}

/** A file's identity as far as change detection goes; `missing` when it cannot be stat'ed. */
function identity(path: string): string {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  } catch (error) {
    return `missing:${(error as NodeJS.ErrnoException).code ?? ''}`;
  }
}

export interface WatchOptions {
  /** How often every path is stat'ed. */
  pollMs?: number;
  /** Whether to use inotify on the files' directories as well as the poll. */
  inotify?: boolean;
}

export function watchFiles(paths: readonly string[], onChange: (path: string) => void, options: WatchOptions = {}): FileWatch {
  const { pollMs = 1000, inotify = true } = options;
  const unique = [...new Set(paths)];
  const seen = new Map(unique.map((path) => [path, identity(path)]));
  const check = () => {
    for (const path of unique) {
      const now = identity(path);
      if (now !== seen.get(path)) {
        seen.set(path, now);
        onChange(path);
      }
    }
  };
  const watchers: FSWatcher[] = [];
  for (const dir of inotify ? new Set(unique.map((path) => dirname(path))) : []) {
    try {
      // Any event in the directory (a `..data` swap, an editor's rename) triggers a check.
      const watcher = watch(dir, { persistent: false }, () => check());
      watcher.on('error', () => watcher.close());
      watchers.push(watcher);
    } catch {
      // No inotify here (or the directory is missing): the poll still sees every change.
    }
  }
  const timer = setInterval(check, pollMs);
  timer.unref();
  return {
    close() {
      clearInterval(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}
