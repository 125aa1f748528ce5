/**
 * The HTTP proxy's access decision. Explicit cases pin squid's semantics as the issue states them;
 * property tests compare the decision with a reference matcher written here from that statement,
 * on lists rendered to text and read back by the real grammar.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressValue } from '../../src/config/address.js';
import { allowedAddresses, decideAddress, decideName, normalizeName } from '../../src/http-proxy/decide.js';
import { parseProxyRules } from '../../src/http-proxy/rules.js';

const rules = (text: string) => {
  const parsed = parseProxyRules(text, 'test');
  expect(parsed.problems).toEqual([]);
  return parsed.rules;
};
const v4 = (text: string) => ({ family: 4 as const, text, value: addressValue({ family: 4, text }) });
const v6 = (text: string) => ({ family: 6 as const, text, value: addressValue({ family: 6, text }) });

describe('decision: names', () => {
  const list = rules('!*.bad.example.com\n*.example.com\napi.example.net');

  it('*.example.com matches the name itself and every name under it, not a name that merely ends alike', () => {
    for (const name of ['example.com', 'www.example.com', 'a.b.example.com']) {
      expect(decideName(list, name)).toEqual({ dependsOnAddresses: false, verdict: { action: 'allow', line: 2 } });
    }
    expect(decideName(list, 'badexample.com')).toEqual({ dependsOnAddresses: false, verdict: { action: 'deny', line: undefined } });
  });

  it('the first matching rule wins: a deny before an allow', () => {
    expect(decideName(list, 'bad.example.com')).toEqual({ dependsOnAddresses: false, verdict: { action: 'deny', line: 1 } });
    expect(decideName(list, 'x.bad.example.com')).toEqual({ dependsOnAddresses: false, verdict: { action: 'deny', line: 1 } });
  });

  it('a plain name matches only itself', () => {
    expect(decideName(list, 'api.example.net').dependsOnAddresses).toBe(false);
    expect(decideName(list, 'www.api.example.net')).toEqual({ dependsOnAddresses: false, verdict: { action: 'deny', line: undefined } });
  });

  it('compares case-insensitively and ignores a trailing dot once the requested name is normalized', () => {
    expect(normalizeName('WWW.Example.COM.')).toBe('www.example.com');
    expect(decideName(list, normalizeName('WWW.Example.COM.'))).toMatchObject({ verdict: { action: 'allow', line: 2 } });
  });

  it('a final * allows what no rule matched', () => {
    expect(decideName(rules('!*.example.net\n*'), 'example.org')).toEqual({ dependsOnAddresses: false, verdict: { action: 'allow', line: 2 } });
  });
});

describe('decision: addresses and networks', () => {
  const list = rules('!192.168.1.0/24\n192.168.0.0/16\n2001:db8::/32\n*.example.com');

  it('a literal address is matched by address rules only; name rules never match it', () => {
    expect(decideAddress(list, undefined, v4('192.168.1.7'))).toEqual({ action: 'deny', line: 1 });
    expect(decideAddress(list, undefined, v4('192.168.2.7'))).toEqual({ action: 'allow', line: 2 });
    expect(decideAddress(list, undefined, v6('2001:db8::1'))).toEqual({ action: 'allow', line: 3 });
    expect(decideAddress(list, undefined, v4('10.0.0.1'))).toEqual({ action: 'deny', line: undefined });
  });

  it('an IPv4 rule never matches an IPv6 address, and the reverse', () => {
    expect(decideAddress(rules('0.0.0.0/0'), undefined, v6('::ffff:1:2'))).toEqual({ action: 'deny', line: undefined });
    expect(decideAddress(rules('::/0'), undefined, v4('1.2.3.4'))).toEqual({ action: 'deny', line: undefined });
  });

  it('a name whose decision can depend on address rules before its own rule needs its addresses', () => {
    expect(decideName(list, 'www.example.com')).toEqual({ dependsOnAddresses: true });
  });

  it('each resolved address gets its own verdict, and only the allowed ones are connected to', () => {
    const addresses = [v4('192.168.1.5'), v4('192.168.3.5'), v4('10.1.1.1')];
    const result = allowedAddresses(list, 'unlisted.example.org', addresses);
    expect(result.allowed.map((a) => a.text)).toEqual(['192.168.3.5']);
    expect(result.allowedBy).toEqual({ action: 'allow', line: 2 });
    expect(result.refusedBy).toEqual({ action: 'deny', line: 1 });
  });

  it('a name rule after the address rules decides for the addresses they do not match', () => {
    const result = allowedAddresses(list, 'www.example.com', [v4('192.168.1.5'), v4('10.1.1.1')]);
    expect(result.allowed.map((a) => a.text)).toEqual(['10.1.1.1']);
    expect(result.allowedBy).toEqual({ action: 'allow', line: 4 });
  });

  it('a denied name is refused without a lookup when every address rule before it denies too', () => {
    expect(decideName(rules('!10.0.0.0/8\n!*.example.com\n*'), 'a.example.com')).toEqual({ dependsOnAddresses: false, verdict: { action: 'deny', line: 2 } });
    expect(decideName(rules('!10.0.0.0/8\nexample.org'), 'a.example.com')).toEqual({ dependsOnAddresses: false, verdict: { action: 'deny', line: undefined } });
  });
});

// ---- property tests against a reference matcher ---------------------------------------------------

type RefRule =
  | { kind: 'name'; deny: boolean; labels: string[]; subdomains: boolean }
  | { kind: 'net'; deny: boolean; family: 4 | 6; bits: bigint; prefix: number };
interface RefList {
  rules: RefRule[];
  wildcard: boolean;
}
interface RefAddress {
  family: 4 | 6;
  bits: bigint;
}

const WIDTH = { 4: 32, 6: 128 } as const;

/** Dotted decimal or eight full hexadecimal groups, written here without any library. */
function renderAddress(family: 4 | 6, bits: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((bits >> shift) & 255n)).join('.');
  return Array.from({ length: 8 }, (_, i) => ((bits >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
}

function renderRule(rule: RefRule): string {
  const text = rule.kind === 'name' ? `${rule.subdomains ? '*.' : ''}${rule.labels.join('.')}` : `${renderAddress(rule.family, rule.bits)}/${rule.prefix}`;
  return `${rule.deny ? '!' : ''}${text}`;
}

/** The reference: labels compared from the right, networks compared bit by bit from the left. */
function refMatches(rule: RefRule, name: string[] | undefined, address: RefAddress): boolean {
  if (rule.kind === 'name') {
    if (!name) return false;
    if (rule.subdomains ? name.length < rule.labels.length : name.length !== rule.labels.length) return false;
    return rule.labels.every((label, i) => name[name.length - rule.labels.length + i] === label);
  }
  if (rule.family !== address.family) return false;
  const width = WIDTH[rule.family];
  for (let bit = 0; bit < rule.prefix; bit++) {
    const shift = BigInt(width - 1 - bit);
    if (((rule.bits >> shift) & 1n) !== ((address.bits >> shift) & 1n)) return false;
  }
  return true;
}

function refAllowed(list: RefList, name: string[] | undefined, address: RefAddress): boolean {
  const rule = list.rules.find((r) => refMatches(r, name, address));
  return rule ? !rule.deny : list.wildcard;
}

// Labels that end like others ('ba', 'a'), so that a suffix of the text is not taken for a parent name.
const label = fc.constantFrom('a', 'ba', 'www', 'example', 'xexample', 'com', 'net', 'x-1');
const labels = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => [...ls, 'com']);
/** Addresses drawn near a few networks, so that rules and addresses often meet. */
const v4Bits = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }),
  fc.bigInt({ min: 0n, max: 255n }).map((low) => 0xc0a80100n | low),
  fc.bigInt({ min: 0n, max: 0xffffn }).map((low) => 0x0a000000n | low),
);
const v6Bits = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
  fc.bigInt({ min: 0n, max: 0xffffn }).map((low) => (0x20010db8n << 96n) | low),
);
const refAddress: fc.Arbitrary<RefAddress> = fc.oneof(v4Bits.map((bits) => ({ family: 4 as const, bits })), v6Bits.map((bits) => ({ family: 6 as const, bits })));
/** A network: an address with its host bits cleared, and its prefix. */
const refNet = fc.oneof(
  fc.tuple(v4Bits, fc.integer({ min: 0, max: 32 })).map(([bits, prefix]) => ({ family: 4 as const, prefix, bits: prefix === 0 ? 0n : (bits >> BigInt(32 - prefix)) << BigInt(32 - prefix) })),
  fc.tuple(v6Bits, fc.integer({ min: 0, max: 128 })).map(([bits, prefix]) => ({ family: 6 as const, prefix, bits: prefix === 0 ? 0n : (bits >> BigInt(128 - prefix)) << BigInt(128 - prefix) })),
);
const refRule: fc.Arbitrary<RefRule> = fc.oneof(
  fc.record({ deny: fc.boolean(), labels, subdomains: fc.boolean() }).map((r) => ({ kind: 'name' as const, ...r })),
  fc.tuple(fc.boolean(), refNet).map(([deny, net]) => ({ kind: 'net' as const, deny, ...net })),
);
const refList: fc.Arbitrary<RefList> = fc.record({ rules: fc.array(refRule, { maxLength: 8 }), wildcard: fc.boolean() });

function parsed(list: RefList) {
  const text = [...list.rules.map(renderRule), ...(list.wildcard ? ['*'] : [])].join('\n');
  const result = parseProxyRules(text || '*', 'test');
  expect(result.problems).toEqual([]);
  return result.rules;
}
const checked = (a: RefAddress) => ({ family: a.family, value: a.bits });

describe('decision: properties against the reference matcher', () => {
  it('a literal address is allowed exactly when the reference allows it', () => {
    fc.assert(
      fc.property(refList, refAddress, (list, address) => {
        if (list.rules.length === 0 && !list.wildcard) return;
        const verdict = decideAddress(parsed(list), undefined, checked(address));
        expect(verdict.action === 'allow').toBe(refAllowed(list, undefined, address));
      }),
      { numRuns: 2000 },
    );
  });

  it("a name's allowed addresses are exactly those the reference allows, in the order given", () => {
    fc.assert(
      fc.property(refList, labels, fc.array(refAddress, { maxLength: 6 }), (list, name, addresses) => {
        if (list.rules.length === 0 && !list.wildcard) return;
        const result = allowedAddresses(parsed(list), name.join('.'), addresses.map(checked));
        expect(result.allowed).toEqual(addresses.filter((a) => refAllowed(list, name, a)).map(checked));
      }),
      { numRuns: 2000 },
    );
  });

  it('a verdict given before the lookup is the verdict of every address the name could have', () => {
    fc.assert(
      fc.property(refList, labels, fc.array(refAddress, { minLength: 1, maxLength: 6 }), (list, name, addresses) => {
        if (list.rules.length === 0 && !list.wildcard) return;
        const early = decideName(parsed(list), name.join('.'));
        if (early.dependsOnAddresses) return;
        for (const address of addresses) expect(early.verdict.action === 'allow').toBe(refAllowed(list, name, address));
      }),
      { numRuns: 2000 },
    );
  });

  it('a name needs no lookup when no address rule comes before the rule that matches it', () => {
    fc.assert(
      fc.property(refList, labels, (list, name) => {
        if (list.rules.length === 0 && !list.wildcard) return;
        const first = list.rules.findIndex((r) => r.kind === 'name' && refMatches(r, name, { family: 4, bits: 0n }));
        const before = first === -1 ? list.rules : list.rules.slice(0, first);
        if (before.some((r) => r.kind === 'net')) return;
        expect(decideName(parsed(list), name.join('.')).dependsOnAddresses).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});
