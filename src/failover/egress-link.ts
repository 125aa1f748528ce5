/**
 * The egress interface as failover sees it: this replica's advertisement address (added when
 * missing) and the source address (released when keepalived could not release it itself).
 */
import { execaSync } from 'execa';
import type { Logger } from 'pino';
import type { InterfaceAddress, IpAddress } from '../config/address.js';
import { type Result, fail, ok, problem } from '../problem.js';
import { runCommand } from '../system/commands.js';
import { advertSourceCidr, advertSourceFor } from './advert-source.js';

interface LinkInfo {
  mac: string | undefined;
  addresses: { local: string; prefixlen: number }[];
}

export class EgressLink {
  constructor(private readonly dev: string, private readonly source: InterfaceAddress, private readonly log: Logger) {}

  private get sourceCidr(): string {
    return `${this.source.text}/${this.source.prefix}`;
  }

  private async read(): Promise<Result<LinkInfo>> {
    const shown = await runCommand(['ip', '-j', 'addr', 'show', 'dev', this.dev]);
    if (!shown.ok) return fail(problem('environment', `interface ${this.dev}`, shown.error));
    try {
      const [link] = JSON.parse(shown.stdout || '[]') as { address?: string; addr_info?: LinkInfo['addresses'] }[];
      return ok({ mac: link?.address, addresses: link?.addr_info ?? [] });
    } catch {
      return fail(problem('environment', `ip -j addr show dev ${this.dev}`, 'printed output that is not JSON (iproute2 too old?)'));
    }
  }

  /** IPv4: this replica's advertisement address (advert-source.ts), added if missing. IPv6 needs none. */
  async ensureAdvertSource(): Promise<Result<IpAddress | undefined>> {
    if (this.source.family !== 4) return ok(undefined);
    const link = await this.read();
    if (!link.ok) return link;
    const address = link.value.mac ? advertSourceFor(link.value.mac) : undefined;
    if (!address) return fail(problem('environment', `interface ${this.dev}`, `has no MAC address to derive the VRRP advertisement address from (${link.value.mac ?? 'none'})`));
    if (link.value.addresses.some((a) => a.local === address.text)) return ok(address);
    const added = await runCommand(['ip', '-4', 'addr', 'replace', advertSourceCidr(address), 'dev', this.dev, 'scope', 'link']);
    if (!added.ok) return fail(problem('environment', `interface ${this.dev}`, `cannot add the VRRP advertisement address ${address.text}: ${added.error}`));
    this.log.info({ address: address.text, interface: this.dev }, 'added the link-local address VRRP advertisements leave from');
    return ok(address);
  }

  /**
   * Renews the source address's lease: a lifetime of `seconds`, after which the kernel deletes it
   * unless renewed. Only an address that is there is renewed: for IPv4 and IPv6 alike the kernel
   * treats `ip addr change` of a missing address as an add, and the address is keepalived's to add.
   */
  async renewSourceLease(seconds: number): Promise<void> {
    const link = await this.read();
    if (!link.ok || !link.value.addresses.some((a) => a.local === this.source.text && a.prefixlen === this.source.prefix)) return;
    const lifetime = String(seconds);
    await runCommand(['ip', 'addr', 'change', this.sourceCidr, 'dev', this.dev, 'valid_lft', lifetime, 'preferred_lft', lifetime]);
  }

  /** Deletes the source address if it is on the interface: keepalived died before it could. */
  async releaseSource(): Promise<void> {
    const link = await this.read();
    if (!link.ok || !link.value.addresses.some((a) => a.local === this.source.text && a.prefixlen === this.source.prefix)) return;
    const removed = await runCommand(['ip', 'addr', 'del', this.sourceCidr, 'dev', this.dev]);
    if (removed.ok) this.log.warn({ address: this.sourceCidr }, 'released the source address keepalived left behind');
    else this.log.error({ address: this.sourceCidr, error: removed.error }, 'could not release the source address');
  }

  /** The same, synchronously, for the moment the process exits (nothing asynchronous runs then). */
  releaseSourceSync(): void {
    execaSync('ip', ['addr', 'del', this.sourceCidr, 'dev', this.dev], { reject: false, stdio: 'ignore' });
  }
}
