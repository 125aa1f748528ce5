/** Which Linux capabilities the process holds, read from /proc/self/status. */
import type { Capabilities } from '../plan/observed.js';

const CAP_NET_ADMIN = 12n;
const CAP_NET_RAW = 13n;

/** Parses the `CapEff:` line of /proc/<pid>/status. */
export function parseCapabilities(status: string): Capabilities {
  const line = status.split('\n').find((l) => l.startsWith('CapEff:'));
  const mask = line ? BigInt(`0x${line.slice('CapEff:'.length).trim()}`) : 0n;
  const has = (bit: bigint) => ((mask >> bit) & 1n) === 1n;
  return { netAdmin: has(CAP_NET_ADMIN), netRaw: has(CAP_NET_RAW) };
}
