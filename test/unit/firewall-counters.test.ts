/**
 * Reading counters back from real `nft -j list table` and `iptables-save -c` output (fixtures
 * captured from nft 1.0.6 and iptables 1.8.9 with the router's ruleset loaded).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { countersCommands, parseCounters, parseIptablesCounters, parseNftCounters } from '../../src/firewall/counters.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
const LOCAL = [{ protocol: 'tcp' as const, port: 9552 }];

describe('nftables counters', () => {
  const counters = parseNftCounters(fixture('nft-counters.json'), LOCAL)!;

  it('reads per rule the new connections from either map, and packets and bytes each way from the traffic sets, by port', () => {
    expect(counters.rules).toEqual([
      { protocol: 'sctp', port: 9, connections: 1, refused: 0, out: { packets: 2, bytes: 120 }, in: { packets: 1, bytes: 100 } },
      { protocol: 'udp', port: 53, connections: 0, refused: 3, out: { packets: 0, bytes: 0 }, in: { packets: 0, bytes: 0 } },
      { protocol: 'tcp', port: 80, connections: 5, refused: 0, out: { packets: 25, bytes: 1500 }, in: { packets: 20, bytes: 30000 } },
      { protocol: 'tcp', port: 81, connections: 40, refused: 0, out: { packets: 200, bytes: 12000 }, in: { packets: 160, bytes: 240000 } },
    ]);
  });

  it('reads the fallback and the dropped forwards from their named counters', () => {
    expect(counters.fallback).toEqual({ connections: 4, out: { packets: 12, bytes: 720 }, in: { packets: 10, bytes: 5000 } });
    expect(counters.forwardDropped).toBe(11);
  });

  it('leaves out the pod’s own ports only when told which they are', () => {
    expect(parseNftCounters(fixture('nft-counters.json'))!.rules.map((r) => r.port)).toContain(9552);
  });

  it('reads nothing from output that is not the router’s table', () => {
    expect(parseNftCounters('')).toBeUndefined();
    expect(parseNftCounters('{"nftables": [{"metainfo": {"version": "1.0.6"}}]}')).toBeUndefined();
    expect(parseNftCounters('table ip egress_router {')).toBeUndefined();
  });

  it('lists the table as JSON', () => {
    expect(countersCommands('nftables', 6)).toEqual([['nft', '-j', 'list', 'table', 'ip6', 'egress_router']]);
  });
});

describe('iptables counters', () => {
  const counters = parseIptablesCounters(fixture('iptables-counters-nat.txt'), fixture('iptables-counters-filter.txt'), LOCAL)!;

  it('sums the DNAT rules of each port, counts its RETURN as refused, and has no packets or bytes per rule', () => {
    expect(counters.rules).toEqual([
      { protocol: 'udp', port: 53, connections: 0, refused: 0 },
      { protocol: 'tcp', port: 80, connections: 11, refused: 0 },
      { protocol: 'tcp', port: 81, connections: 0, refused: 2 },
      { protocol: 'tcp', port: 82, connections: 0, refused: 0 },
    ]);
  });

  it('reads the fallback DNAT and the DROP rule', () => {
    expect(counters.fallback).toEqual({ connections: 4 });
    expect(counters.forwardDropped).toBe(11);
  });

  it('takes the commands’ outputs in order, and reads nothing without the router’s chains', () => {
    expect(countersCommands('iptables', 4)).toEqual([
      ['iptables-save', '-c', '-t', 'nat'],
      ['iptables-save', '-c', '-t', 'filter'],
    ]);
    expect(parseCounters('iptables', [fixture('iptables-counters-nat.txt'), fixture('iptables-counters-filter.txt')], LOCAL)).toEqual(counters);
    expect(parseCounters('iptables', ['*nat\nCOMMIT\n', '*filter\nCOMMIT\n'])).toBeUndefined();
  });
});
