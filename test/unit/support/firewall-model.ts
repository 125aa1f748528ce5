/**
 * Small models of what the kernel keeps, for testing the element-level updates without root:
 * the nftables table as named maps, sets, counters and chains, built from the renderer's
 * `nft -f` text and changed by an update's commands with the kernel's refusals (a missing
 * element, a key added again with another value, a chain still referenced, a chain that does not
 * exist); and the iptables nat chain as its list of rules. Written from nft's and
 * iptables-restore's documented behaviour, not from the renderers.
 */

export interface NftState {
  /** Map or set name -> key -> value ('' for a set element). */
  collections: Map<string, Map<string, string>>;
  /** Map or set name -> its declaration lines (type, flags). */
  declarations: Map<string, string[]>;
  counters: Set<string>;
  chains: Map<string, string[]>;
}

const emptyState = (): NftState => ({ collections: new Map(), declarations: new Map(), counters: new Set(), chains: new Map() });

export function cloneState(state: NftState): NftState {
  return {
    collections: new Map([...state.collections].map(([name, elements]) => [name, new Map(elements)])),
    declarations: new Map([...state.declarations].map(([name, lines]) => [name, [...lines]])),
    counters: new Set(state.counters),
    chains: new Map([...state.chains].map(([name, rules]) => [name, [...rules]])),
  };
}

function splitElement(text: string): [string, string] {
  const colon = text.indexOf(' : ');
  return colon === -1 ? [text, ''] : [text.slice(0, colon), text.slice(colon + 3)];
}

const goto = (value: string): string | undefined => /^(?:goto|jump) (\S+)$/.exec(value)?.[1];

/** Reads `nft -f` text of a whole table (as renderNftables writes it) into a state. */
export function parseTable(text: string): NftState {
  const state = emptyState();
  const lines = text.split('\n');
  let i = lines.findIndex((line) => /^table \S+ \S+ \{$/.test(line));
  if (i === -1) throw new Error('no table block');
  for (i++; i < lines.length && lines[i] !== '}'; i++) {
    const line = lines[i]!;
    const block = /^\t(map|set|counter|chain) (\S+) \{$/.exec(line);
    if (!block) {
      if (line.trim() !== '') throw new Error(`unexpected line ${JSON.stringify(line)}`);
      continue;
    }
    const [, kind, name] = block as unknown as [string, string, string];
    const body: string[] = [];
    for (i++; lines[i] !== '\t}'; i++) {
      if (i >= lines.length) throw new Error(`unterminated ${kind} ${name}`);
      body.push(lines[i]!.replace(/^\t\t/, ''));
    }
    if (kind === 'counter') state.counters.add(name);
    else if (kind === 'chain') state.chains.set(name, body);
    else {
      const elements = new Map<string, string>();
      const declaration: string[] = [];
      for (let j = 0; j < body.length; j++) {
        if (body[j] === 'elements = {') {
          for (j++; body[j] !== '}'; j++) {
            const [key, value] = splitElement(body[j]!.trim().replace(/,$/, ''));
            if (elements.has(key)) throw new Error(`${name}: duplicate key ${key}`);
            elements.set(key, value);
          }
        } else declaration.push(body[j]!);
      }
      state.collections.set(name, elements);
      state.declarations.set(name, declaration);
    }
  }
  for (const elements of state.collections.values()) {
    for (const value of elements.values()) {
      const target = goto(value);
      if (target !== undefined && !state.chains.has(target)) throw new Error(`verdict names a missing chain ${target}`);
    }
  }
  return state;
}

function references(state: NftState, chain: string): boolean {
  for (const elements of state.collections.values()) for (const value of elements.values()) if (goto(value) === chain) return true;
  for (const rules of state.chains.values()) if (rules.some((rule) => new RegExp(`(?:goto|jump) ${chain}$`).test(rule))) return true;
  return false;
}

/**
 * Applies the commands of an update (add/delete element, add/delete/flush chain, add rule,
 * flush map/set) to a copy of the state, as one transaction: the first refusal throws and
 * leaves the state as it was.
 */
export function applyCommands(state: NftState, text: string, table = 'ip egress_router'): NftState {
  const next = cloneState(state);
  const lines = text.split('\n');
  const prefix = (verb: string) => `${verb} ${table} `;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const element = /^(add|delete) element (\S+ \S+) (\S+) \{$/.exec(line);
    if (element) {
      if (element[2] !== table) throw new Error(`foreign table in ${line}`);
      const items: string[] = [];
      for (i++; lines[i] !== '}'; i++) {
        if (i >= lines.length) throw new Error(`unterminated ${line}`);
        items.push(lines[i]!.trim().replace(/,$/, ''));
      }
      const collection = next.collections.get(element[3]!);
      if (!collection) throw new Error(`no map or set ${element[3]}`);
      for (const item of items) {
        const [key, value] = splitElement(item);
        if (element[1] === 'delete') {
          if (!collection.has(key)) throw new Error(`delete element: ${key} is not in ${element[3]}`);
          collection.delete(key);
        } else {
          const existing = collection.get(key);
          if (existing !== undefined && existing !== value) throw new Error(`add element: ${key} is in ${element[3]} with another value`);
          const target = goto(value);
          if (target !== undefined && !next.chains.has(target)) throw new Error(`add element: chain ${target} does not exist`);
          collection.set(key, value);
        }
      }
      continue;
    }
    const chain = /^(add|delete|flush) chain (\S+ \S+) (\S+)$/.exec(line);
    if (chain) {
      const [, verb, , name] = chain as unknown as [string, string, string, string];
      if (verb === 'add') {
        if (!next.chains.has(name)) next.chains.set(name, []);
      } else if (!next.chains.has(name)) throw new Error(`${verb} chain: ${name} does not exist`);
      else if (verb === 'flush') next.chains.set(name, []);
      else {
        next.chains.delete(name);
        if (references(next, name)) throw new Error(`delete chain: ${name} is still referenced`);
      }
      continue;
    }
    if (line.startsWith(prefix('add rule'))) {
      const rest = line.slice(prefix('add rule').length);
      const name = rest.slice(0, rest.indexOf(' '));
      const rules = next.chains.get(name);
      if (!rules) throw new Error(`add rule: chain ${name} does not exist`);
      rules.push(rest.slice(name.length + 1));
      continue;
    }
    const flush = /^flush (map|set) (\S+ \S+) (\S+)$/.exec(line);
    if (flush) {
      const collection = next.collections.get(flush[3]!);
      if (!collection) throw new Error(`flush ${flush[1]}: no ${flush[3]}`);
      collection.clear();
      continue;
    }
    throw new Error(`command the model does not know: ${JSON.stringify(line)}`);
  }
  return next;
}

/** A state as plain sorted data, for deep equality: chains and elements in any order are equal. */
export function canonical(state: NftState): unknown {
  const sorted = <T>(entries: [string, T][]) => entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    collections: sorted([...state.collections].map(([name, elements]) => [name, sorted([...elements])])),
    declarations: sorted([...state.declarations]),
    counters: [...state.counters].sort(),
    chains: sorted([...state.chains]),
  };
}

/** Removes the chains no verdict or rule references: what a takeover may leave behind. */
export function withoutUnreferencedRuleChains(state: NftState): NftState {
  const next = cloneState(state);
  for (const name of [...next.chains.keys()]) if (name.startsWith('rule_') && !references(next, name)) next.chains.delete(name);
  return next;
}

// ---- iptables: one chain's rules, changed by `iptables-restore --noflush` lines ----

/** Applies `-D chain spec`, `-I chain n spec` and `-A chain spec` lines to copies of the chains. */
export function applyIptables(chains: ReadonlyMap<string, readonly string[]>, text: string): Map<string, string[]> {
  const next = new Map([...chains].map(([name, rules]) => [name, [...rules]]));
  for (const line of text.split('\n')) {
    if (line === '' || line === '*nat' || line === 'COMMIT') continue;
    const match = /^-(D|I|A) (\S+) (?:(\d+) )?(.*)$/.exec(line);
    if (!match) throw new Error(`line the model does not know: ${JSON.stringify(line)}`);
    const [, verb, name, position, spec] = match as unknown as [string, string, string, string | undefined, string];
    const rules = next.get(name);
    if (!rules) throw new Error(`no chain ${name}`);
    if (verb === 'D') {
      const at = rules.indexOf(spec);
      if (at === -1) throw new Error(`-D: no rule ${spec}`);
      rules.splice(at, 1);
    } else if (verb === 'I') {
      const at = Number(position ?? '1') - 1;
      if (at > rules.length) throw new Error(`-I: position ${at + 1} is past the end (${rules.length} rules)`);
      rules.splice(at, 0, spec);
    } else rules.push(spec);
  }
  return next;
}

/**
 * The meaning of the router's nat chain: the fixed head, each port's rules in their order (ports
 * match disjoint packets, so the order between ports does not matter, but a spreading rule's
 * probabilities do), and the fallback's rules at the end. Throws if a port's rules are split.
 */
export function natMeaning(rules: readonly string[], head: number): unknown {
  const byPort = new Map<string, string[]>();
  let last: string | undefined;
  let i = head;
  for (; i < rules.length; i++) {
    const port = /^-p \S+ -m \S+ --dport \d+/.exec(rules[i]!)?.[0];
    if (port === undefined) break;
    if (port !== last && byPort.has(port)) throw new Error(`rules of ${port} are not together`);
    byPort.set(port, [...(byPort.get(port) ?? []), rules[i]!]);
    last = port;
  }
  return { head: rules.slice(0, head), ports: [...byPort].sort(([a], [b]) => (a < b ? -1 : 1)), tail: rules.slice(i) };
}
