// Preloaded into the router (node --import) by the benchmark: at exit, reports the process's
// peak resident set (VmHWM) on stderr as "bench-rss <kB>". Nothing else changes.
import { readFileSync, writeSync } from 'node:fs';

process.on('exit', () => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? '0';
  writeSync(2, `bench-rss ${hwm}\n`);
});
