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

export function describeIntegration(name: string, body: () => void): void {
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
