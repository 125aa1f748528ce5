/**
 * keepalived as the router runs it (pure): its configuration, its command line, its files, and the
 * state lines it writes to the notification FIFO.
 *
 * One VRRP instance on the egress interface with the source address as its virtual address.
 * keepalived adds the address when it becomes MASTER, sends the gratuitous ARPs (IPv4) or
 * unsolicited neighbour advertisements (IPv6), and deletes the address when it leaves MASTER or
 * stops (SIGTERM), after telling the other replicas with a priority-0 advertisement. It runs no
 * scripts: state changes reach the router through a FIFO.
 */
import type { InterfaceAddress, IpAddress } from '../config/address.js';
import type { FailoverSettings } from './settings.js';

/** The instance name, as keepalived writes it to the FIFO. */
export const INSTANCE = 'egress_router';

export interface KeepalivedFiles {
  config: string;
  /** The FIFO keepalived writes `INSTANCE "egress_router" MASTER 100` lines to. */
  fifo: string;
  pid: string;
  vrrpPid: string;
}

/** Everything keepalived reads or writes, inside the one directory the router gives it. */
export function keepalivedFiles(workDir: string): KeepalivedFiles {
  return {
    config: `${workDir}/keepalived.conf`,
    fifo: `${workDir}/keepalived.fifo`,
    pid: `${workDir}/keepalived.pid`,
    vrrpPid: `${workDir}/keepalived-vrrp.pid`,
  };
}

export interface KeepalivedInput {
  settings: FailoverSettings;
  egressInterface: string;
  /** EGRESS_SOURCE with its prefix: the virtual address, and the family of the whole instance. */
  source: InterfaceAddress;
  /** IPv4 only: this replica's own address for its advertisements (see advert-source.ts). */
  advertSource?: IpAddress;
  files: KeepalivedFiles;
}

/**
 * Gratuitous ARP: three at takeover (one lost packet must not leave the LAN pointing at the old
 * holder), three more 2 s later (the legacy router's re-announcement, for a switch or neighbour
 * that missed the first), and one every 10 s while holding, which heals a neighbour misled by a
 * replica whose container died without releasing the address (see the README, "Failover").
 */
const GARP = { repeat: 3, secondBurstAfterS: 2, refreshEveryS: 10 } as const;

export function renderKeepalivedConfig(input: KeepalivedInput): string {
  const { settings, egressInterface: dev, source, advertSource, files } = input;
  const lines = [
    '# Written by egress-router at every start of keepalived; changes here are overwritten.',
    'global_defs {',
    '\t# VRRPv3 (RFC 5798): advertisement intervals below a second',
    '\tvrrp_version 3',
    `\t# state changes for the router: INSTANCE "${INSTANCE}" MASTER|BACKUP|FAULT|STOP <priority>`,
    `\tvrrp_notify_fifo ${files.fifo}`,
    `\tvrrp_garp_master_repeat ${GARP.repeat}`,
    `\tvrrp_garp_master_delay ${GARP.secondBurstAfterS}`,
    `\tvrrp_garp_master_refresh ${GARP.refreshEveryS}`,
    '\tvrrp_garp_master_refresh_repeat 1',
    '\t# after two holders (a healed partition), the loser\'s last advert makes the winner announce',
    '\t# again, so the LAN ends up with the winner\'s MAC address',
    '\tvrrp_higher_prio_send_advert true',
    '}',
    '',
    `vrrp_instance ${INSTANCE} {`,
    '\t# every replica starts as a backup and never preempts a healthy holder: no flapping',
    '\tstate BACKUP',
    '\tnopreempt',
    `\tinterface ${dev}`,
    `\tvirtual_router_id ${settings.routerId}`,
    `\tpriority ${settings.priority}`,
    `\tadvert_int ${(settings.advertIntervalMs / 1000).toFixed(2)}`,
  ];
  if (source.family === 4 && advertSource) {
    // Without an IPv4 address of its own keepalived stays in FAULT; losing it is a fault too.
    lines.push(`\tmcast_src_ip ${advertSource.text}`, '\ttrack_src_ip');
  }
  lines.push('\tvirtual_ipaddress {', `\t\t${source.text}/${source.prefix} dev ${dev}`, '\t}', '}', '');
  return lines.join('\n');
}

/**
 * keepalived in the foreground (`--dont-fork`), VRRP only, logging to its stderr. `setpriv
 * --pdeathsig KILL` makes the kernel kill it when the router's process ends, however it ends;
 * keepalived's VRRP process has its own parent-death signal (SIGTERM) and then releases the
 * address and sends its priority-0 advertisement, so the other replica takes over at once.
 */
export function keepalivedCommand(files: KeepalivedFiles): string[] {
  return [
    'setpriv', '--pdeathsig', 'KILL',
    'keepalived', '--dont-fork', '--vrrp', '--log-console', '--log-detail', '--no-syslog',
    '--use-file', files.config, '--pid', files.pid, '--vrrp_pid', files.vrrpPid,
  ];
}

/** The commands failover runs, for the image and the preflight check. */
export const FAILOVER_TOOLS = ['keepalived', 'setpriv', 'mkfifo'] as const;

/** What keepalived says about the instance; STOP covers keepalived stopping and the instance going away. */
export type KeepalivedState = 'BACKUP' | 'MASTER' | 'FAULT' | 'STOP';

/**
 * One FIFO line: `INSTANCE "egress_router" MASTER 100`. Lines about other things (priority
 * changes, "MASTER_RX_LOWER_PRI") and anything unexpected give undefined.
 */
export function parseNotifyLine(line: string): KeepalivedState | undefined {
  const match = /^INSTANCE "([^"]*)" ([A-Z_]+) \d+$/.exec(line.trim());
  if (!match || match[1] !== INSTANCE) return undefined;
  const state = match[2]!;
  if (state === 'BACKUP' || state === 'MASTER' || state === 'FAULT' || state === 'STOP') return state;
  if (state === 'DELETED') return 'STOP';
  return undefined;
}

/** keepalived's console line without its timestamp ("Wed Nov 25 09:25:37 2026: "). */
export function stripLogTimestamp(line: string): string {
  return line.replace(/^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: /, '');
}

/** Whether a keepalived log line reports something an operator should see at warning level. */
export function isKeepalivedWarning(message: string): boolean {
  return /\b(error|warning|failed|cannot|can.t|unable|not permitted|missing permission)\b/i.test(message);
}
