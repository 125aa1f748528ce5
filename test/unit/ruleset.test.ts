/** From a configuration and the names' current answers to the ruleset both backends render. */
import { describe, expect, it } from 'vitest';
import type { IpAddress } from '../../src/config/address.js';
import { type Config, parseConfig } from '../../src/config/config.js';
import { PER_RULE_COUNTER_LIMIT, noAnswers, rulesetFor } from '../../src/firewall/ruleset.js';
import { formatProblem } from '../../src/problem.js';
import { v4, v6 } from './support/rulesets.js';

function config(destination: string, env: Record<string, string> = {}): Config {
  const result = parseConfig(
    { EGRESS_SOURCE: '192.168.12.99/24', EGRESS_GATEWAY: '192.168.12.1', EGRESS_DESTINATION: destination, EGRESS_ROUTER_MODE: 'init', ...env },
    () => ({ ok: false, reason: 'no files in unit tests' }),
  );
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.value;
}

const answers =
  (table: Record<string, IpAddress[]>) =>
  (name: string): IpAddress[] | undefined =>
    table[name];

describe('rulesetFor', () => {
  it('keeps addresses as they are, one target each', () => {
    const ruleset = rulesetFor(config('80 tcp 203.0.113.25\n8080 tcp 203.0.113.26 80\n203.0.113.27'), noAnswers)!;
    expect(ruleset.redirects).toEqual([
      { protocol: 'tcp', port: 80, targets: [v4('203.0.113.25')], targetPort: 80 },
      { protocol: 'tcp', port: 8080, targets: [v4('203.0.113.26')], targetPort: 80 },
    ]);
    expect(ruleset.fallback).toEqual({ targets: [v4('203.0.113.27')] });
    expect(ruleset.source).toEqual(v4('192.168.12.99'));
  });

  it('replaces a name by its current addresses: the source family only, each once, sorted', () => {
    const ruleset = rulesetFor(
      config('5432 tcp db.example.com'),
      answers({ 'db.example.com': [v4('203.0.113.9'), v6('2001:db8::9'), v4('203.0.113.10'), v4('203.0.113.9')] }),
    )!;
    expect(ruleset.redirects[0]!.targets).toEqual([v4('203.0.113.10'), v4('203.0.113.9')]);
  });

  it('gives a rule whose name has no answer (yet, or none) no target, so its port refuses connections', () => {
    const ruleset = rulesetFor(config('80 tcp db.example.com\n81 tcp gone.example.com\n203.0.113.27'), answers({ 'gone.example.com': [] }))!;
    expect(ruleset.redirects.map((r) => r.targets)).toEqual([[], []]);
    // The fallback is still there: it must not catch the refused ports (the renderers see to it).
    expect(ruleset.fallback).toEqual({ targets: [v4('203.0.113.27')] });
  });

  it('resolves a named fallback the same way, and keeps it without addresses while it has none', () => {
    const list = '80 tcp 203.0.113.25\nbackup.example.com';
    expect(rulesetFor(config(list), answers({ 'backup.example.com': [v4('203.0.113.28'), v4('203.0.113.27')] }))!.fallback).toEqual({
      targets: [v4('203.0.113.27'), v4('203.0.113.28')],
    });
    expect(rulesetFor(config(list), noAnswers)!.fallback).toEqual({ targets: [] });
  });

  it('asks for each name once, however many rules name it', () => {
    const asked: string[] = [];
    rulesetFor(config('80 tcp db.example.com\n81 tcp db.example.com\n82 udp db.example.com'), (name) => {
      asked.push(name);
      return [v4('203.0.113.9')];
    });
    expect(asked).toEqual(['db.example.com']);
  });

  it('takes the local ports out of the redirects and keeps them in the ruleset', () => {
    const ruleset = rulesetFor(config('9552 udp 203.0.113.25\n80 tcp 203.0.113.25'), noAnswers, { localPorts: [{ protocol: 'udp', port: 9552 }] })!;
    expect(ruleset.redirects.map((r) => `${r.protocol}/${r.port}`)).toEqual(['tcp/80']);
    expect(ruleset.localPorts).toEqual([{ protocol: 'udp', port: 9552 }]);
  });

  it('counts per rule for lists up to the limit, and not beyond unless asked', () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `${i + 1} tcp 203.0.113.25`).join('\n');
    expect(rulesetFor(config(lines(PER_RULE_COUNTER_LIMIT)), noAnswers)!.perRuleCounters).toBe(true);
    expect(rulesetFor(config(lines(PER_RULE_COUNTER_LIMIT + 1)), noAnswers)!.perRuleCounters).toBe(false);
    expect(rulesetFor(config(lines(PER_RULE_COUNTER_LIMIT + 1)), noAnswers, { perRuleCounters: true })!.perRuleCounters).toBe(true);
  });

  it('is pure: the same inputs give equal rulesets', () => {
    const c = config('80 tcp db.example.com\nbackup.example.com');
    const lookup = answers({ 'db.example.com': [v4('203.0.113.9')], 'backup.example.com': [v4('203.0.113.8')] });
    expect(JSON.stringify(rulesetFor(c, lookup))).toBe(JSON.stringify(rulesetFor(c, lookup)));
  });

  it('has an empty ruleset in the proxy modes: for its input filter, and for the DNS proxy to fill in', () => {
    expect(rulesetFor(config('', { EGRESS_ROUTER_MODE: 'http-proxy' }), noAnswers)?.redirects).toEqual([]);
    expect(rulesetFor(config('', { EGRESS_ROUTER_MODE: 'dns-proxy' }), noAnswers)?.redirects).toEqual([]);
  });
});
