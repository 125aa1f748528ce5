/**
 * Element-level updates: each kind of change touches only what changed, a static change asks for
 * a whole replacement, and applying an update to the state rendered from one ruleset gives the
 * state rendered from the next (checked on a model of the kernel's state, at random).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderIptablesConverge, emptySnapshot, natHeader, wantedSnapshot } from '../../src/firewall/iptables.js';
import { renderNftables } from '../../src/firewall/nftables.js';
import type { RedirectEntry, Ruleset } from '../../src/firewall/ruleset.js';
import { changedRules, renderIptablesUpdate, renderNftablesElements, renderNftablesUpdate } from '../../src/firewall/update.js';
import { applyCommands, applyIptables, canonical, natMeaning, parseTable, withoutUnreferencedRuleChains } from './support/firewall-model.js';
import { manyRules, rule, ruleset, v4 } from './support/rulesets.js';

const BASE = ruleset(
  [rule('tcp', 80, ['203.0.113.25']), rule('tcp', 81, ['203.0.113.25', '203.0.113.26'], 8081), rule('udp', 53, []), rule('sctp', 9, ['203.0.113.26'])],
  { fallback: { targets: [v4('203.0.113.27')] }, localPorts: [{ protocol: 'tcp', port: 9552 }] },
);
const replaced = (base: Ruleset, ...rules: RedirectEntry[]): Ruleset => ({
  ...base,
  redirects: base.redirects.map((r) => rules.find((n) => n.protocol === r.protocol && n.port === r.port) ?? r),
});
const update = (previous: Ruleset, next: Ruleset): string => {
  const text = renderNftablesUpdate(previous, next);
  if (text === undefined) throw new Error('expected an element update');
  return text;
};
/** The update applied to the model of the previous table equals the model of the next one. */
function expectConverges(previous: Ruleset, next: Ruleset): void {
  const applied = applyCommands(parseTable(renderNftables(previous)), update(previous, next), previous.family === 4 ? 'ip egress_router' : 'ip6 egress_router');
  expect(canonical(applied)).toEqual(canonical(parseTable(renderNftables(next))));
}

describe('nftables element updates: each change touches only its rule', () => {
  it('a rule whose one address changed: its map element deleted and added again, nothing else', () => {
    const next = replaced(BASE, rule('tcp', 80, ['203.0.113.99']));
    expect(update(BASE, next)).toBe(
      'delete element ip egress_router redirects {\n\ttcp . 80\n}\nadd element ip egress_router redirects {\n\ttcp . 80 : 203.0.113.99 . 80\n}\n',
    );
    expectConverges(BASE, next);
  });

  it('an added rule: its map element and its traffic counters', () => {
    const next = { ...BASE, redirects: [...BASE.redirects, rule('udp', 123, ['203.0.113.30'])] };
    expect(update(BASE, next)).toBe(
      [
        'add element ip egress_router redirects {\n\tudp . 123 : 203.0.113.30 . 123\n}',
        'add element ip egress_router out_udp {\n\t123\n}',
        'add element ip egress_router in_udp {\n\t123\n}',
        '',
      ].join('\n'),
    );
    expectConverges(BASE, next);
  });

  it('a removed rule: its element and its traffic counters go', () => {
    const next = { ...BASE, redirects: BASE.redirects.filter((r) => r.port !== 9) };
    expect(update(BASE, next)).toBe(
      [
        'delete element ip egress_router redirects {\n\tsctp . 9\n}',
        'delete element ip egress_router out_sctp {\n\t9\n}',
        'delete element ip egress_router in_sctp {\n\t9\n}',
        '',
      ].join('\n'),
    );
    expectConverges(BASE, next);
  });

  it('a rule that starts to spread: out of the map, into a chain of its own reached through the verdict map', () => {
    const next = replaced(BASE, rule('tcp', 80, ['203.0.113.25', '203.0.113.28']));
    const text = update(BASE, next);
    expect(text.split('\n').filter((l) => /^(add|delete|flush)/.test(l))).toEqual([
      'delete element ip egress_router redirects {',
      'add chain ip egress_router rule_tcp_80',
      'add rule ip egress_router rule_tcp_80 meta l4proto tcp dnat ip to numgen random mod 2 map { 0 : 203.0.113.25 . 80, 1 : 203.0.113.28 . 80 }',
      'add element ip egress_router verdicts {',
    ]);
    expect(text).toContain('\ttcp . 80 : goto rule_tcp_80\n');
    expect(text).not.toMatch(/(out|in)_tcp/);
    expectConverges(BASE, next);
  });

  it('a spreading rule with other addresses: its chain refilled, its elements and counters untouched', () => {
    const next = replaced(BASE, rule('tcp', 81, ['203.0.113.25', '203.0.113.26', '203.0.113.27'], 8081));
    expect(update(BASE, next)).toBe(
      'flush chain ip egress_router rule_tcp_81\nadd rule ip egress_router rule_tcp_81 meta l4proto tcp dnat ip to numgen random mod 3 map { 0 : 203.0.113.25 . 8081, 1 : 203.0.113.26 . 8081, 2 : 203.0.113.27 . 8081 }\n',
    );
    expectConverges(BASE, next);
  });

  it('a spreading rule whose name stops resolving: its verdict becomes accept, then its chain goes', () => {
    const next = replaced(BASE, rule('tcp', 81, [], 8081));
    const text = update(BASE, next);
    expect(text).toBe(
      'delete element ip egress_router verdicts {\n\ttcp . 81\n}\ndelete chain ip egress_router rule_tcp_81\nadd element ip egress_router verdicts {\n\ttcp . 81 : accept\n}\n',
    );
    expectConverges(BASE, next);
  });

  it('a refusing rule whose name resolves to one address: its verdict goes, its map element comes', () => {
    const next = replaced(BASE, rule('udp', 53, ['203.0.113.53']));
    expect(update(BASE, next)).toBe(
      'delete element ip egress_router verdicts {\n\tudp . 53\n}\nadd element ip egress_router redirects {\n\tudp . 53 : 203.0.113.53 . 53\n}\n',
    );
    expectConverges(BASE, next);
  });

  it('a fallback with other addresses: its chain refilled; one that no longer resolves: emptied', () => {
    const spread = { ...BASE, fallback: { targets: [v4('203.0.113.27'), v4('203.0.113.28')] } };
    expect(update(BASE, spread)).toBe(
      'flush chain ip egress_router fallback\nadd rule ip egress_router fallback counter name fallback_connections dnat ip to numgen random mod 2 map { 0 : 203.0.113.27, 1 : 203.0.113.28 }\n',
    );
    expect(update(BASE, { ...BASE, fallback: { targets: [] } })).toBe('flush chain ip egress_router fallback\n');
    expect(update(BASE, { ...BASE, fallback: undefined })).toBe('flush chain ip egress_router fallback\n');
    expectConverges(BASE, spread);
    expectConverges(spread, { ...BASE, fallback: undefined });
  });

  it('nothing changed: nothing to do', () => {
    expect(update(BASE, structuredClone(BASE))).toBe('');
    expect(changedRules(BASE, structuredClone(BASE))).toEqual([]);
  });

  it('without per-rule counters, rules come and go without traffic elements', () => {
    const quiet = { ...BASE, perRuleCounters: false };
    const next = { ...quiet, redirects: [...quiet.redirects, rule('udp', 123, ['203.0.113.30'])] };
    expect(update(quiet, next)).toBe('add element ip egress_router redirects {\n\tudp . 123 : 203.0.113.30 . 123\n}\n');
    expectConverges(quiet, next);
  });

  it('IPv6: the ip6 table and address family', () => {
    const six = ruleset([rule('tcp', 80, ['2001:db8::25'])], { family: 6, source: { family: 6, text: '2001:db8::99' } });
    const next = { ...six, redirects: [rule('tcp', 80, ['2001:db8::25', '2001:db8::26'])] };
    expect(update(six, next)).toContain('add rule ip6 egress_router rule_tcp_80 meta l4proto tcp dnat ip6 to numgen random mod 2 map { 0 : 2001:db8::25 . 80, 1 : 2001:db8::26 . 80 }');
    expectConverges(six, next);
  });
});

describe('static changes need a whole replacement', () => {
  it.each<[string, Partial<Ruleset>]>([
    ['family', { family: 6 }],
    ['cluster interface', { clusterInterface: 'eth1' }],
    ['egress interface', { egressInterface: 'macvlan1' }],
    ['source', { source: v4('192.168.12.98') }],
    ['drop logging', { logDrops: true }],
    ['local ports', { localPorts: [{ protocol: 'tcp', port: 9553 }] }],
    ['per-rule counters', { perRuleCounters: false }],
  ])('%s: undefined for both backends', (_, change) => {
    expect(renderNftablesUpdate(BASE, { ...BASE, ...change })).toBeUndefined();
    expect(renderIptablesUpdate(BASE, { ...BASE, ...change })).toBeUndefined();
  });

  it('local ports in another order are the same ports', () => {
    const two = { ...BASE, localPorts: [{ protocol: 'tcp' as const, port: 9552 }, { protocol: 'udp' as const, port: 9552 }] };
    expect(renderNftablesUpdate(two, { ...two, localPorts: [...two.localPorts].reverse() })).toBe('');
  });
});

describe('one changed line among 100,000 rules', () => {
  const big = ruleset(manyRules(100_000));
  const next = { ...big, redirects: big.redirects.map((r, i) => (i === 54_321 ? rule(r.protocol, r.port, ['198.51.100.7'], r.targetPort) : r)) };

  it('is one element deleted and added again, found by index, not by rendering the list', () => {
    const started = performance.now();
    const text = update(big, next);
    const ms = performance.now() - started;
    const changed = big.redirects[54_321]!;
    expect(text).toBe(
      `delete element ip egress_router redirects {\n\t${changed.protocol} . ${changed.port}\n}\nadd element ip egress_router redirects {\n\t${changed.protocol} . ${changed.port} : 198.51.100.7 . 80\n}\n`,
    );
    const iptables = renderIptablesUpdate(big, next)!;
    expect(iptables.split('\n')).toHaveLength(5);
    console.log(`update of 1 of 100,000 rules rendered in ${Math.round(ms)} ms (nftables)`);
  });
});

describe('iptables single-rule updates', () => {
  const head = natHeader(BASE).length;

  it('a changed rule: its rule deleted by its text, the new one inserted after the fixed head', () => {
    const next = replaced(BASE, rule('tcp', 80, ['203.0.113.99']));
    expect(renderIptablesUpdate(BASE, next)).toBe(
      [
        '*nat',
        '-D EGRESS-ROUTER-PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 203.0.113.25:80',
        `-I EGRESS-ROUTER-PREROUTING ${head + 1} -p tcp -m tcp --dport 80 -j DNAT --to-destination 203.0.113.99:80`,
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('a rule that spreads over three addresses: its rules inserted together, in order', () => {
    const next = replaced(BASE, rule('tcp', 80, ['203.0.113.25', '203.0.113.26', '203.0.113.27']));
    const lines = renderIptablesUpdate(BASE, next)!.split('\n');
    expect(lines.slice(2, 5)).toEqual([
      `-I EGRESS-ROUTER-PREROUTING ${head + 1} -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0.3333333333 -j DNAT --to-destination 203.0.113.25:80`,
      `-I EGRESS-ROUTER-PREROUTING ${head + 2} -p tcp -m tcp --dport 80 -m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 203.0.113.26:80`,
      `-I EGRESS-ROUTER-PREROUTING ${head + 3} -p tcp -m tcp --dport 80 -j DNAT --to-destination 203.0.113.27:80`,
    ]);
  });

  it('the fallback: its rules deleted and appended again at the end', () => {
    const next = { ...BASE, fallback: { targets: [v4('203.0.113.28')] } };
    expect(renderIptablesUpdate(BASE, next)).toBe(
      '*nat\n-D EGRESS-ROUTER-PREROUTING -j DNAT --to-destination 203.0.113.27\n-A EGRESS-ROUTER-PREROUTING -j DNAT --to-destination 203.0.113.28\nCOMMIT\n',
    );
  });

  it('nothing changed: nothing to do', () => {
    expect(renderIptablesUpdate(BASE, structuredClone(BASE))).toBe('');
  });

  it('renders the loadable converge text the model reads back', () => {
    expect(renderIptablesConverge(emptySnapshot(), wantedSnapshot(BASE))).toContain('-A EGRESS-ROUTER-PREROUTING -p udp -m udp --dport 53 -j RETURN\n');
  });
});

describe('replacing every element of a table whose elements are unknown', () => {
  it('empties the maps, sets and fallback, then fills them as a whole render would', () => {
    const other = ruleset([rule('tcp', 80, ['203.0.113.1', '203.0.113.2']), rule('udp', 7, ['203.0.113.3'])], {
      localPorts: BASE.localPorts,
      fallback: { targets: [v4('203.0.113.4'), v4('203.0.113.5')] },
    });
    const applied = applyCommands(parseTable(renderNftables(other)), renderNftablesElements(BASE));
    expect(canonical(withoutUnreferencedRuleChains(applied))).toEqual(canonical(parseTable(renderNftables(BASE))));
  });

  it('loads into a table that already holds the same elements', () => {
    const applied = applyCommands(parseTable(renderNftables(BASE)), renderNftablesElements(BASE));
    expect(canonical(applied)).toEqual(canonical(parseTable(renderNftables(BASE))));
  });
});

// ---- at random: the update takes the previous state to the next ----

const ADDRESSES = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'];
const targets = fc.subarray(ADDRESSES).map((picked) => [...picked].sort());
const ruleArbitrary = fc.record({
  protocol: fc.constantFrom('tcp' as const, 'udp' as const, 'sctp' as const),
  port: fc.integer({ min: 1, max: 12 }),
  targets,
  targetPort: fc.constantFrom(80, 443),
});
const rules = fc.uniqueArray(ruleArbitrary, { selector: (r) => `${r.protocol}/${r.port}`, maxLength: 20 });
const fallback = fc.option(targets.map((t) => ({ targets: t.map(v4) })), { nil: undefined });
const rulesetArbitrary = (perRuleCounters: boolean) =>
  fc.record({ redirects: rules, fallback }).map(({ redirects, fallback }) =>
    ruleset(
      redirects.map((r) => rule(r.protocol, r.port, r.targets, r.targetPort)),
      { fallback, perRuleCounters, localPorts: [{ protocol: 'tcp', port: 9552 }] },
    ),
  );
const pair = fc.boolean().chain((counters) => fc.tuple(rulesetArbitrary(counters), rulesetArbitrary(counters)));

describe('property: applying the update equals rendering the next ruleset', () => {
  it('nftables: the model of the table after the update is the model of the next table', () => {
    fc.assert(
      fc.property(pair, ([previous, next]) => {
        expectConverges(previous, next);
      }),
      { numRuns: 400 },
    );
  });

  it('nftables: a whole-element replacement from any earlier table gives the next table (but for stale chains)', () => {
    fc.assert(
      fc.property(pair, ([previous, next]) => {
        const applied = applyCommands(parseTable(renderNftables(previous)), renderNftablesElements(next));
        expect(canonical(withoutUnreferencedRuleChains(applied))).toEqual(canonical(parseTable(renderNftables(next))));
      }),
      { numRuns: 200 },
    );
  });

  it('iptables: the nat chain after the update means what the next chain means', () => {
    fc.assert(
      fc.property(pair, ([previous, next]) => {
        const chain = 'EGRESS-ROUTER-PREROUTING';
        const before = wantedSnapshot(previous).nat.chains;
        const after = applyIptables(before, renderIptablesUpdate(previous, next)!).get(chain)!;
        const head = natHeader(next).length;
        expect(natMeaning(after, head)).toEqual(natMeaning(wantedSnapshot(next).nat.chains.get(chain)!, head));
      }),
      { numRuns: 400 },
    );
  });
});
