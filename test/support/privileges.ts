/**
 * Running the router as a least-privilege container would: only some capabilities, no privilege
 * escalation, and /proc/sys read-only. (test/integration/privileges.test.ts has its own copy.)
 */

/**
 * A setpriv prefix that leaves a root process exactly `caps` (and `extra` setpriv options): only
 * the bounding set holds them, as containerd and CRI-O do for a root container.
 */
export function onlyCapabilities(caps: ('net_admin' | 'net_raw')[], extra: string[] = []): string[] {
  const set = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return ['setpriv', '--inh-caps=-all', '--ambient-caps=-all', `--bounding-set=${set}`, ...extra];
}

/** Mounts /proc/sys read-only, as runtimes do for unprivileged containers, then execs the rest. */
export const READ_ONLY_PROC_SYS = ['sh', '-c', 'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$@"', 'sh'];

/** The whole prefix: an unprivileged container with NET_ADMIN and NET_RAW. */
export const LEAST_PRIVILEGE = [...READ_ONLY_PROC_SYS, ...onlyCapabilities(['net_admin', 'net_raw'], ['--no-new-privs'])];
