/** Noticing changed configuration files, as the kubelet changes a mounted ConfigMap. */
import { rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type FileWatch, watchFiles } from '../../src/live/watch.js';
import { ConfigMapDir } from '../support/configmap.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function changes(watch: (onChange: (path: string) => void) => FileWatch, act: () => void, waitMs: number): Promise<string[]> {
  const seen: string[] = [];
  const handle = watch((path) => seen.push(path));
  try {
    await sleep(50);
    act();
    await sleep(waitMs);
    return seen;
  } finally {
    handle.close();
  }
}

describe('watchFiles', () => {
  let configMap: ConfigMapDir | undefined;
  afterEach(() => configMap?.remove());

  it('sees a kubelet-style ..data swap at once through inotify', async () => {
    configMap = new ConfigMapDir({ destinations: 'a\n', env: 'A=1\n' });
    const path = configMap.path('destinations');
    const seen = await changes((cb) => watchFiles([path], cb, { pollMs: 60_000 }), () => configMap!.update({ destinations: 'b\n', env: 'A=1\n' }), 200);
    expect(seen).toContain(path);
  });

  it('sees the swap through its poll when inotify says nothing', async () => {
    configMap = new ConfigMapDir({ destinations: 'a\n' });
    const path = configMap.path('destinations');
    const seen = await changes((cb) => watchFiles([path], cb, { pollMs: 100, inotify: false }), () => configMap!.update({ destinations: 'bb\n' }), 400);
    expect(seen).toContain(path);
  });

  it('sees a file appear and disappear', async () => {
    configMap = new ConfigMapDir({ destinations: 'a\n' });
    const extra = `${configMap.dir}/later`;
    const appeared = await changes((cb) => watchFiles([extra], cb, { pollMs: 100 }), () => writeFileSync(extra, 'x'), 400);
    expect(appeared).toEqual([extra]);
    const removed = await changes((cb) => watchFiles([extra], cb, { pollMs: 100 }), () => rmSync(extra), 400);
    expect(removed).toEqual([extra]);
  });

  it('says nothing when nothing changed', async () => {
    configMap = new ConfigMapDir({ destinations: 'a\n' });
    const seen = await changes((cb) => watchFiles([configMap!.path('destinations')], cb, { pollMs: 50 }), () => undefined, 300);
    expect(seen).toEqual([]);
  });
});
