/**
 * Who held the source address when, from `ip monitor address` events: the basis of the "never
 * two holders for longer than one advertisement interval" assertions.
 */
export interface AddressEvent {
  pod: number;
  /** true: the address was added; false: deleted. */
  held: boolean;
  /** Wall-clock time of the event (ip -ts), in milliseconds. */
  atMs: number;
}

/** One stretch of time a replica held the address: [fromMs, toMs). */
export interface Holding {
  fromMs: number;
  toMs: number;
}

/**
 * The stretches each replica held the address between `startMs` and `endMs`, given who held it at
 * the start (`initial`) and the events in between (in any order).
 */
export function holdingIntervals(replicas: number, initial: number[], startMs: number, events: AddressEvent[], endMs: number): Holding[][] {
  const result: Holding[][] = Array.from({ length: replicas }, () => []);
  for (let pod = 0; pod < replicas; pod++) {
    let since: number | undefined = initial.includes(pod) ? startMs : undefined;
    for (const event of events.filter((e) => e.pod === pod).sort((a, b) => a.atMs - b.atMs)) {
      if (event.held && since === undefined) since = event.atMs;
      if (!event.held && since !== undefined) {
        result[pod]!.push({ fromMs: since, toMs: event.atMs });
        since = undefined;
      }
    }
    if (since !== undefined) result[pod]!.push({ fromMs: since, toMs: endMs });
  }
  return result;
}

/** The longest time any two replicas held the address at once, in milliseconds (0: never). */
export function longestDoubleHolding(holdings: Holding[][]): number {
  let longest = 0;
  for (let a = 0; a < holdings.length; a++) {
    for (let b = a + 1; b < holdings.length; b++) {
      for (const x of holdings[a]!) {
        for (const y of holdings[b]!) longest = Math.max(longest, Math.min(x.toMs, y.toMs) - Math.max(x.fromMs, y.fromMs));
      }
    }
  }
  return longest;
}

/** How many times the address changed hands: the stretches held, minus one. */
export const handovers = (holdings: Holding[][]): number => Math.max(0, holdings.flat().length - 1);
