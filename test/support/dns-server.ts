/**
 * A real DNS server for tests: dnsmasq in one of the test's namespaces, answering only the records
 * the test gives it (with their TTLs) and NXDOMAIN for every other name. `update()` changes the
 * answers by restarting it on the same address, which takes a few milliseconds.
 */
import { execa, type ResultPromise } from 'execa';

export interface DnsRecord {
  name: string;
  /** IPv4 and IPv6 addresses, mixed as needed; an empty list makes the name answer NODATA. */
  addresses: string[];
  ttl: number;
}

export class DnsServer {
  private child: ResultPromise | undefined;
  private log = '';

  private constructor(readonly ns: string, readonly address: string) {}

  /** Starts dnsmasq in `ns` listening on `address` (which must already be on an interface there). */
  static async start(ns: string, address: string, records: DnsRecord[]): Promise<DnsServer> {
    const server = new DnsServer(ns, address);
    await server.launch(records);
    return server;
  }

  private async launch(records: DnsRecord[]): Promise<void> {
    const hostRecords = records.flatMap((r) =>
      r.addresses.length === 0 ? [`--txt-record=${r.name},nodata`] : r.addresses.map((a) => `--host-record=${r.name},${a},${r.ttl}`),
    );
    const child = execa(
      'ip',
      [
        'netns', 'exec', this.ns, 'dnsmasq',
        '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--pid-file=',
        `--listen-address=${this.address}`, '--bind-interfaces',
        // Every name is local: unknown names get NXDOMAIN, not REFUSED.
        '--local=/#/',
        '--log-queries', '--log-facility=-',
        ...hostRecords,
      ],
      { reject: false, all: true },
    );
    this.child = child;
    child.all!.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    // dnsmasq says "started" on stderr once it listens.
    const deadline = Date.now() + 5000;
    while (!this.log.includes('started') && Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (!this.log.includes('started')) throw new Error(`dnsmasq did not start: ${this.log}`);
  }

  /** Replaces every record; queries in the few milliseconds of the restart go unanswered. */
  async update(records: DnsRecord[]): Promise<void> {
    await this.stop();
    this.log = '';
    await this.launch(records);
  }

  /** The queries it answered so far (since the last update), as dnsmasq logged them. */
  queries(): string[] {
    return this.log.split('\n').filter((l) => l.includes('query['));
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    child.kill('SIGTERM');
    await child;
  }
}
