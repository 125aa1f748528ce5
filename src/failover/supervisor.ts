/**
 * The failover shell: runs keepalived as a child of the router, learns its state through the
 * notification FIFO, restarts it when it dies, and stops it so that the address is released.
 *
 * Start-up, in order:
 * 1. IPv4: this replica's link-local advertisement address (advert-source.ts), before anything
 *    below can delete an IPv4 address, since deleting the last one would flush the routes;
 * 2. the work directory, keepalived's configuration and the FIFO (opened before keepalived starts,
 *    read and write, so no state line is lost and keepalived restarts never see it closed);
 * 3. a source address left on the interface by an earlier run that could not release it;
 * 4. keepalived, which starts as a backup and says so on the FIFO.
 */
import { mkdirSync, openSync, constants, rmSync, statSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { InterfaceAddress, IpAddress } from '../config/address.js';
import { type Problem, type Result, fail, ok, problem } from '../problem.js';
import { runCommand } from '../system/commands.js';
import { nextAttempt, restartDelayMs } from './backoff.js';
import { EgressLink } from './egress-link.js';
import { type KeepalivedFiles, isKeepalivedWarning, keepalivedCommand, keepalivedFiles, parseNotifyLine, renderKeepalivedConfig, stripLogTimestamp } from './keepalived.js';
import { type FailoverMetrics, failoverMetrics } from './metrics.js';
import { type Role, type RoleListener, RoleTracker } from './role.js';
import type { FailoverSettings } from './settings.js';

export interface FailoverOptions {
  log: Logger;
  registry: Registry;
  egressInterface: string;
  /** EGRESS_SOURCE with its prefix. */
  source: InterfaceAddress;
  /** Where keepalived's files go; settings.workDir unless given. */
  workDir?: string;
}

export interface Failover {
  readonly role: Role;
  /** Calls `listener` at every role change; returns the function that unregisters it. */
  onRoleChange(listener: RoleListener): () => void;
  /** Stops keepalived (which releases the address and tells the others at once) and waits for it. */
  stop(): Promise<void>;
}

/**
 * The source address's lifetime while held, and how often it is renewed: long enough that a busy
 * event loop never lets it lapse on a healthy holder, short enough to bound a dead one's copy.
 */
const SOURCE_LEASE_SECONDS = 3;
const LEASE_RENEW_MS = 1000;

/** How long `startFailover` waits for keepalived's first state line. */
const START_TIMEOUT_MS = 5000;
/** keepalived's own limit for its children to finish at stop is 5 s; then it is killed. */
const STOP_TIMEOUT_MS = 6000;

class Supervisor implements Failover {
  private readonly tracker = new RoleTracker();
  private readonly metrics: FailoverMetrics;
  private readonly files: KeepalivedFiles;
  private readonly log: Logger;
  private fifo: Socket | undefined;
  private child: ResultPromise | undefined;
  private childExited: Promise<void> = Promise.resolve();
  private startedAt = 0;
  private attempt = -1;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private recentLines: string[] = [];
  private firstState: ((role: Role) => void) | undefined;
  private readonly link: EgressLink;
  private leaseTimer: NodeJS.Timeout | undefined;
  private readonly releaseAtExit = () => {
    try {
      if (this.child?.pid !== undefined) process.kill(this.child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    this.link.releaseSourceSync();
  };

  constructor(private readonly settings: FailoverSettings, private readonly options: FailoverOptions) {
    this.log = options.log.child({ area: 'failover' });
    this.metrics = failoverMetrics(options.registry);
    this.files = keepalivedFiles(options.workDir ?? settings.workDir);
    this.link = new EgressLink(options.egressInterface, options.source, this.log);
  }

  get role(): Role {
    return this.tracker.role;
  }

  onRoleChange(listener: RoleListener): () => void {
    return this.tracker.onChange(listener);
  }

  private async prepareFiles(advertSource: IpAddress | undefined): Promise<Problem | undefined> {
    const where = `EGRESS_ROUTER_VRRP_DIR ${this.options.workDir ?? this.settings.workDir}`;
    try {
      mkdirSync(this.options.workDir ?? this.settings.workDir, { recursive: true, mode: 0o700 });
      const config = renderKeepalivedConfig({ settings: this.settings, egressInterface: this.options.egressInterface, source: this.options.source, advertSource, files: this.files });
      writeFileSync(this.files.config, config, { mode: 0o600 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const hint = code === 'EROFS' || code === 'EACCES' ? '; mount a writable volume there (an emptyDir), see the README, "Failover"' : '';
      return problem('environment', where, `cannot write keepalived's files: ${(error as Error).message}${hint}`);
    }
    let isFifo = false;
    try {
      isFifo = statSync(this.files.fifo).isFIFO();
      if (!isFifo) rmSync(this.files.fifo, { force: true });
    } catch {
      // absent: made below
    }
    if (!isFifo) {
      const made = await runCommand(['mkfifo', '-m', '600', this.files.fifo]);
      if (!made.ok) return problem('environment', where, `cannot make the FIFO ${this.files.fifo}: ${made.error}`);
    }
    // Read and write: opening never blocks, and the FIFO never reports an end while keepalived restarts.
    let fd: number;
    try {
      fd = openSync(this.files.fifo, constants.O_RDWR | constants.O_NONBLOCK);
    } catch (error) {
      return problem('environment', where, `cannot open the FIFO ${this.files.fifo}: ${(error as Error).message}`);
    }
    const socket = new Socket({ fd, readable: true, writable: false });
    createInterface({ input: socket }).on('line', (line) => this.onStateLine(line));
    this.fifo = socket;
    return undefined;
  }

  private onStateLine(line: string): void {
    const state = parseNotifyLine(line);
    if (!state || this.stopping) return;
    // keepalived stopping on its own (someone signalled it) is a fault until it runs again.
    const role: Role = state === 'STOP' ? 'FAULT' : state;
    this.setRole(role);
    // A keepalived that stops as it starts (no permission, say) has not started.
    if (state !== 'STOP') this.firstState?.(role);
    // The advertisement address gone (someone deleted it) is one fault the router can repair.
    if (role === 'FAULT') void this.link.ensureAdvertSource();
  }

  private setRole(role: Role): void {
    const previous = this.tracker.role;
    if (!this.tracker.set(role)) return;
    this.metrics.setRole(role);
    this.holdLease(role === 'MASTER');
    // The one log line per role change (the controller adds none): what operators search for.
    const holds = role === 'MASTER' ? { holds: `${this.options.source.text}/${this.options.source.prefix}` } : {};
    this.log.info({ role, previous, ...holds }, `VRRP role ${role}`);
  }

  /**
   * While MASTER, the source address is on a lease the router renews every second. A container
   * killed whole (router and keepalived at once, nothing left to release anything) would otherwise
   * leave its copy of the address in the pod's network namespace, answering ARP beside the new
   * holder's, until the container restarts, which a crash loop's back-off makes minutes; with the
   * lease the kernel deletes it within SOURCE_LEASE_SECONDS.
   */
  private holdLease(holding: boolean): void {
    clearInterval(this.leaseTimer);
    this.leaseTimer = undefined;
    if (!holding) return;
    // The first renewal waits a second: two replicas can both be MASTER for an advertisement
    // interval, and the one that steps down must not have its address renewed as it goes.
    this.leaseTimer = setInterval(() => {
      if (this.tracker.role === 'MASTER') void this.link.renewSourceLease(SOURCE_LEASE_SECONDS);
    }, LEASE_RENEW_MS);
    this.leaseTimer.unref();
  }

  private onLogLine(line: string): void {
    const message = stripLogTimestamp(line);
    this.recentLines = [...this.recentLines.slice(-4), message];
    if (isKeepalivedWarning(message)) this.log.warn({ keepalived: message }, 'keepalived');
    else this.log.debug({ keepalived: message }, 'keepalived');
  }

  private spawn(): ResultPromise {
    // keepalived refuses to start ("daemon is already running") while its pid files name a live
    // process. Ours are gone (this supervisor is the only user of the directory), but a pid file
    // from an earlier container can name an unrelated process of this one, and an unreaped zombie
    // of a crashed keepalived still counts as live.
    for (const file of [this.files.pid, this.files.vrrpPid]) rmSync(file, { force: true });
    const [file, ...args] = keepalivedCommand(this.files);
    // Its own session: a terminal's ^C is for the router, which then stops keepalived in order.
    const child = execa(file!, args, { reject: false, buffer: false, stdin: 'ignore', detached: true });
    for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream! }).on('line', (line) => this.onLogLine(line));
    this.child = child;
    this.startedAt = performance.now();
    this.childExited = child.then((result) => {
      if (this.child === child) this.child = undefined;
      if (this.stopping) return;
      const uptimeMs = performance.now() - this.startedAt;
      const how = result.code === 'ENOENT' ? 'could not start (command not found)' : result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
      this.onUnexpectedExit(how, uptimeMs);
    });
    return child;
  }

  private onUnexpectedExit(how: string, uptimeMs: number): void {
    if (this.firstState) return; // start-up failure: startFailover reports it
    this.attempt = nextAttempt(this.attempt, uptimeMs);
    const delay = restartDelayMs(this.attempt);
    this.log.error({ keepalived: this.recentLines, restartInMs: delay }, `keepalived ${how}; restarting it`);
    this.setRole('FAULT');
    void this.link.releaseSource();
    this.metrics.keepalivedRestarted();
    this.restartTimer = setTimeout(() => void this.restart(), delay);
  }

  private async restart(): Promise<void> {
    this.restartTimer = undefined;
    if (this.stopping) return;
    const advertSource = await this.link.ensureAdvertSource();
    if (!advertSource.ok) this.log.error({ problem: advertSource.problems[0] }, 'cannot prepare the VRRP advertisement address');
    if (!this.stopping) this.spawn();
  }

  /** Runs steps 1-4; resolves once keepalived has reported its first state. */
  async start(): Promise<Problem | undefined> {
    const advertSource = await this.link.ensureAdvertSource();
    if (!advertSource.ok) return advertSource.problems[0];
    const failed = await this.prepareFiles(advertSource.value);
    if (failed) return failed;
    await this.link.releaseSource();
    process.on('exit', this.releaseAtExit);
    const first = new Promise<Role | undefined>((resolve) => {
      this.firstState = resolve;
      setTimeout(() => resolve(undefined), START_TIMEOUT_MS).unref();
    });
    const child = this.spawn();
    const outcome = await Promise.race([first, child.then(() => 'exited' as const)]);
    this.firstState = undefined;
    if (outcome !== 'exited') {
      if (outcome === undefined) this.log.warn({ keepalived: this.recentLines }, `keepalived said nothing within ${START_TIMEOUT_MS / 1000} s; going on`);
      return undefined;
    }
    await this.stop();
    const result = await child;
    const lines = this.recentLines.join('; ');
    if (result.code === 'ENOENT' || result.exitCode === 127) {
      return problem('environment', 'command keepalived', `setpriv or keepalived not found on PATH; install keepalived and util-linux in the image (${lines || 'command not found'})`);
    }
    const hint = /missing permission|not permitted/.test(lines) ? ' (keepalived needs CAP_NET_ADMIN and CAP_NET_RAW)' : '';
    return problem('environment', 'keepalived', `exited at start (${result.signal ?? `exit code ${result.exitCode}`})${hint}: ${lines}`);
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<void> {
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (child?.pid !== undefined) {
      this.log.info('stopping keepalived: it releases the address and hands it over at once');
      // Not ready from here on: keepalived gives the address up as soon as it has the signal, but
      // takes about a second more to exit, and the Service must not send new connections here meanwhile.
      this.setRole('STOP');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.childExited;
      clearTimeout(timer);
    }
    await this.link.releaseSource();
    process.off('exit', this.releaseAtExit);
    this.fifo?.destroy();
    this.setRole('STOP');
  }
}

/**
 * Starts failover: keepalived runs, and `role` follows it. Resolves once keepalived has reported
 * its first state (BACKUP, or FAULT without a link), or with the problem that kept it from running.
 */
export async function startFailover(settings: FailoverSettings, options: FailoverOptions): Promise<Result<Failover>> {
  const supervisor = new Supervisor(settings, options);
  const failed = await supervisor.start();
  return failed ? fail(failed) : ok(supervisor);
}
