/** The test support that decides "never two holders for longer than one interval" must itself be right. */
import { describe, expect, it } from 'vitest';
import { handovers, holdingIntervals, longestDoubleHolding } from '../../support/holders.js';

describe('holding intervals from address events', () => {
  it('follow a clean handover: no double holding, one handover', () => {
    const holdings = holdingIntervals(2, [0], 1000, [{ pod: 0, held: false, atMs: 1500 }, { pod: 1, held: true, atMs: 1600 }], 3000);
    expect(holdings).toEqual([[{ fromMs: 1000, toMs: 1500 }], [{ fromMs: 1600, toMs: 3000 }]]);
    expect(longestDoubleHolding(holdings)).toBe(0);
    expect(handovers(holdings)).toBe(1);
  });

  it('measure the longest time two replicas held the address at once, events in any order', () => {
    const events = [
      { pod: 1, held: false, atMs: 2180 },
      { pod: 1, held: true, atMs: 2000 },
      { pod: 0, held: true, atMs: 1100 },
      { pod: 2, held: true, atMs: 2950 },
    ];
    const holdings = holdingIntervals(3, [], 1000, events, 3000);
    expect(longestDoubleHolding(holdings)).toBe(180);
    expect(handovers(holdings)).toBe(2);
  });

  it('count nothing when nobody held the address', () => {
    expect(longestDoubleHolding(holdingIntervals(2, [], 0, [], 100))).toBe(0);
    expect(handovers(holdingIntervals(2, [], 0, [], 100))).toBe(0);
  });
});
