/**
 * Integration tests need root, iproute2 and the firewall tools. Without them they skip locally,
 * but under CI=true they fail: a green CI must mean they ran.
 */
import { describe } from 'vitest';
import { onPath } from '../../src/system/probe.js';

const missing = [
  ...(process.getuid?.() === 0 ? [] : ['root']),
  ...['ip', 'nft', 'iptables-restore', 'iptables-save', 'arping'].filter((tool) => !onPath(tool)),
];

export const integrationMissing = missing;

/** `tools`: commands this suite needs beyond the common ones (keepalived for failover, say). */
export function describeIntegration(name: string, body: () => void, tools: readonly string[] = []): void {
  const missing = [...integrationMissing, ...tools.filter((tool) => !onPath(tool))];
  if (missing.length === 0) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      throw new Error(`integration tests cannot run under CI=true: missing ${missing.join(', ')}`);
    });
  } else {
    describe.skip(`${name} (needs ${missing.join(', ')})`, body);
  }
}
