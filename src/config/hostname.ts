/**
 * DNS names as destinations: the one definition shared by the redirect list, the DNS proxy list
 * and the HTTP proxy list, so that a name means the same thing wherever an administrator writes it.
 *
 * A name has at least two labels (the legacy proxies refused single-label names, which a pod's
 * search list would otherwise turn into something else), labels of 1-63 letters, digits and
 * hyphens that neither start nor end with a hyphen, and at most 253 characters. A trailing dot is
 * allowed and dropped; names compare in lower case (ASCII case only: no other character may
 * stand in for a letter, as the Kelvin sign would through toLowerCase). The last label starts
 * with a letter, as every top-level domain does, so that a mistyped address such as `999.1.1.1`
 * or `203.0.113.8e1` stays an invalid address instead of becoming a name.
 */

export interface HostName {
  /** Lower case, without a trailing dot. */
  name: string;
}

export type HostNameResult = { ok: true; host: HostName } | { ok: false; reason: string };

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_NAME_LENGTH = 253;

export function parseHostName(text: string): HostNameResult {
  const withoutDot = text.endsWith('.') ? text.slice(0, -1) : text;
  const name = withoutDot.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
  if (name === '') return { ok: false, reason: 'empty name' };
  if (name.length > MAX_NAME_LENGTH) return { ok: false, reason: `a name has at most ${MAX_NAME_LENGTH} characters` };
  const labels = name.split('.');
  if (labels.length < 2) return { ok: false, reason: 'a name needs at least one dot (single-label names are not resolved)' };
  const bad = labels.find((label) => !LABEL.test(label));
  if (bad !== undefined) {
    return {
      ok: false,
      reason: bad === '' ? 'empty label (two dots in a row?)' : 'labels are 1-63 letters, digits or hyphens, not starting or ending with a hyphen',
    };
  }
  if (!/^[a-z]/.test(labels[labels.length - 1]!)) {
    return { ok: false, reason: 'the last label starts with a digit, which no top-level domain does' };
  }
  return { ok: true, host: { name } };
}
