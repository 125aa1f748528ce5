/**
 * Signals, as the router's long-running modes handle them. SIGTERM and SIGINT that arrive while
 * the router is changing things wait until the change is complete, so a pod deleted mid-start
 * never keeps half a configuration. SIGHUP asks for a reload; until someone listens it is
 * ignored rather than allowed to kill the process (Node's default).
 */
export class SignalGate {
  private received: NodeJS.Signals | undefined;
  private onSignal: ((signal: NodeJS.Signals) => void) | undefined;
  private onHangup: (() => void) | undefined;

  constructor() {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        this.received = signal;
        this.onSignal?.(signal);
      });
    }
    process.on('SIGHUP', () => this.onHangup?.());
  }

  get pending(): NodeJS.Signals | undefined {
    return this.received;
  }

  /** Resolves at the first SIGTERM or SIGINT (at once if one already came). */
  wait(): Promise<NodeJS.Signals> {
    if (this.received) return Promise.resolve(this.received);
    return new Promise((resolve) => (this.onSignal = resolve));
  }

  /** What SIGHUP does from now on. */
  hangup(listener: () => void): void {
    this.onHangup = listener;
  }
}
