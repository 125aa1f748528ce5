/**
 * Names resolved once, for the one-shot modes (`init`, a dry run): an init container configures
 * the pod and exits, so nothing would keep the answers fresh; the README says to use the
 * long-running mode for names whose addresses change.
 */
import type { Family, IpAddress } from '../config/address.js';
import type { NameResolver } from './resolver.js';

export interface OnceAnswers {
  addressesOf: (name: string) => readonly IpAddress[] | undefined;
  /** Names without addresses, with the reason, for the log. */
  failures: { name: string; reason: string }[];
}

export async function resolveOnce(names: readonly string[], family: Family, resolver: NameResolver): Promise<OnceAnswers> {
  const answers = new Map<string, IpAddress[]>();
  const failures: OnceAnswers['failures'] = [];
  await Promise.all(
    names.map(async (name) => {
      const resolution = await resolver.resolve(name, family);
      if (resolution.ok) answers.set(name, resolution.addresses);
      else failures.push({ name, reason: resolution.reason });
    }),
  );
  return { addressesOf: (name) => answers.get(name), failures };
}
