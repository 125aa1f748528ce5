/**
 * Element-level updates: the transaction that turns the kernel state rendered from one ruleset
 * into the state rendered from the next, touching only what differs, so that a changed line of a
 * 100,000-rule list costs one map element and unchanged rules (and their connections and
 * counters) are left alone. Pure, and linear in the number of rules: rules are indexed by
 * (protocol, port), compared field by field, and only the changed ones are rendered.
 *
 * A change to the static part (family, interfaces, source, logging, local ports, per-rule
 * counters) is not an element change: the renderers return undefined and the caller replaces
 * the whole table.
 */
import { CHAIN_PREFIX, fallbackRules, natHeader, redirectRules } from './iptables.js';
import {
  DIRECTIONS,
  NFT_FALLBACK_CHAIN,
  NFT_REDIRECTS,
  NFT_TABLE,
  NFT_VERDICTS,
  elementList,
  fallbackRule,
  nftElements,
  nftFamily,
  redirectElement,
  ruleChain,
  ruleKeyText,
  spreadRule,
  trafficSet,
  trafficSets,
  verdictElement,
} from './nftables.js';
import { type RedirectEntry, type Ruleset, ruleKey, spreadOf } from './ruleset.js';

/** One rule that differs: absent before (added), absent after (removed), or both (changed). */
export interface RuleChange {
  before?: RedirectEntry;
  after?: RedirectEntry;
}

const sameTargets = (a: RedirectEntry['targets'], b: RedirectEntry['targets']): boolean =>
  a === b || (a.length === b.length && a.every((t, i) => t.text === b[i]!.text));

const sameRule = (a: RedirectEntry, b: RedirectEntry): boolean => a.targetPort === b.targetPort && sameTargets(a.targets, b.targets);

/** (protocol, port) keys are below this: a plain array indexed by them beats a Map by far. */
const KEY_SPACE = 65536 * 4;

/** The rules that differ between two rulesets, in the next ruleset's order, then the removed ones. */
export function changedRules(previous: Ruleset, next: Ruleset): RuleChange[] {
  const before: (RedirectEntry | undefined)[] = new Array(KEY_SPACE);
  for (const r of previous.redirects) before[ruleKey(r.protocol, r.port)] = r;
  const changes: RuleChange[] = [];
  for (const after of next.redirects) {
    const key = ruleKey(after.protocol, after.port);
    const old = before[key];
    if (old === undefined) changes.push({ after });
    else {
      before[key] = undefined;
      if (!sameRule(old, after)) changes.push({ before: old, after });
    }
  }
  for (const old of previous.redirects) if (before[ruleKey(old.protocol, old.port)] === old) changes.push({ before: old });
  return changes;
}

const localPortsKey = (ruleset: Ruleset): string =>
  ruleset.localPorts
    .map((p) => ruleKey(p.protocol, p.port))
    .sort((a, b) => a - b)
    .join(',');

/** Whether the parts the renderers write once per table are the same in both rulesets. */
export function sameStaticPart(previous: Ruleset, next: Ruleset): boolean {
  return (
    previous.family === next.family &&
    previous.clusterInterface === next.clusterInterface &&
    previous.egressInterface === next.egressInterface &&
    previous.source.text === next.source.text &&
    previous.logDrops === next.logDrops &&
    previous.perRuleCounters === next.perRuleCounters &&
    localPortsKey(previous) === localPortsKey(next)
  );
}

const fallbackTargets = (ruleset: Ruleset): RedirectEntry['targets'] => ruleset.fallback?.targets ?? [];

/** Commands of an nft transaction, grouped so that each set gets one command per verb. */
class NftTransaction {
  private readonly removed = new Map<string, string[]>();
  private readonly added = new Map<string, string[]>();
  private readonly chainsRemoved: string[] = [];
  private readonly chainsFilled: string[] = [];

  constructor(private readonly table: string) {}

  remove(set: string, key: string): void {
    push(this.removed, set, key);
  }
  add(set: string, element: string): void {
    push(this.added, set, element);
  }
  deleteChain(chain: string): void {
    this.chainsRemoved.push(`delete chain ${this.table} ${chain}`);
  }
  /** Creates the chain if it is new, else empties it, then gives it its rule. */
  fillChain(chain: string, rule: string | undefined, isNew: boolean): void {
    this.chainsFilled.push(`${isNew ? 'add' : 'flush'} chain ${this.table} ${chain}`);
    if (rule !== undefined) this.chainsFilled.push(`add rule ${this.table} ${chain} ${rule}`);
  }

  /**
   * Deletions first, so that a changed element can be added again with its new value and a
   * chain is no longer referenced when it goes; new chains exist before an element names them.
   */
  render(): string {
    const out: string[] = [];
    const elements = (verb: string, groups: Map<string, string[]>) => {
      for (const [set, items] of groups) out.push(`${verb} element ${this.table} ${set} {\n${elementList(items, '\t')}\n}`);
    };
    elements('delete', this.removed);
    out.push(...this.chainsRemoved, ...this.chainsFilled);
    elements('add', this.added);
    return out.length === 0 ? '' : `${out.join('\n')}\n`;
  }
}

function push(groups: Map<string, string[]>, set: string, item: string): void {
  const items = groups.get(set);
  if (items) items.push(item);
  else groups.set(set, [item]);
}

/** Where a rule lives in the nftables state: its verdict element, if it has one. */
const verdictOf = (r: RedirectEntry | undefined): string | undefined =>
  r === undefined || spreadOf(r.targets) === 'single' ? undefined : verdictElement(r);

function nftRuleChange(tx: NftTransaction, ruleset: Ruleset, { before, after }: RuleChange): void {
  const r = (after ?? before)!;
  const key = ruleKeyText(r);
  const chain = ruleChain(r.protocol, r.port);
  const was = before && spreadOf(before.targets);
  const is = after && spreadOf(after.targets);
  if (was === 'single') tx.remove(NFT_REDIRECTS, key);
  if (is === 'single') tx.add(NFT_REDIRECTS, redirectElement(after!));
  const oldVerdict = verdictOf(before);
  const newVerdict = verdictOf(after);
  if (oldVerdict !== newVerdict) {
    if (oldVerdict !== undefined) tx.remove(NFT_VERDICTS, key);
    if (newVerdict !== undefined) tx.add(NFT_VERDICTS, newVerdict);
  }
  if (was === 'several' && is !== 'several') tx.deleteChain(chain);
  if (is === 'several') tx.fillChain(chain, spreadRule(ruleset.family, after!), was !== 'several');
  // The traffic counters belong to the rule, not to its addresses: they go only with the rule.
  if (ruleset.perRuleCounters && (before === undefined || after === undefined)) {
    for (const direction of DIRECTIONS) {
      const set = trafficSet(direction, r.protocol);
      if (after === undefined) tx.remove(set, String(r.port));
      else tx.add(set, String(r.port));
    }
  }
}

/**
 * The `nft -f` transaction from the state rendered from `previous` to the one rendered from
 * `next`: map and set elements deleted, added, or deleted and added again with a new value;
 * spreading rules' chains added, refilled or deleted; the fallback chain refilled. An empty
 * string when nothing differs; undefined when a static part differs and only a whole
 * replacement (renderNftables) will do. The kernel applies all of it or none: if the table is
 * not what `previous` describes, a deletion or addition fails and nothing changes.
 */
export function renderNftablesUpdate(previous: Ruleset, next: Ruleset): string | undefined {
  if (!sameStaticPart(previous, next)) return undefined;
  const tx = new NftTransaction(`${nftFamily(next)} ${NFT_TABLE}`);
  for (const change of changedRules(previous, next)) nftRuleChange(tx, next, change);
  if (!sameTargets(fallbackTargets(previous), fallbackTargets(next))) {
    tx.fillChain(NFT_FALLBACK_CHAIN, fallbackRule(next.family, fallbackTargets(next)), false);
  }
  return tx.render();
}

/**
 * Every element and per-rule chain of `ruleset`, for a table whose static part is in place but
 * whose elements are unknown (a proxy container taking over the table an init container made):
 * the maps, sets and fallback chain are emptied and filled again, in one transaction. Chains of
 * rules that no longer spread stay behind, unreferenced, until the next whole replacement.
 */
export function renderNftablesElements(ruleset: Ruleset): string {
  const table = `${nftFamily(ruleset)} ${NFT_TABLE}`;
  const elements = nftElements(ruleset);
  const traffic = ruleset.perRuleCounters ? trafficSets().map(({ name, protocol }) => ({ set: name, ports: elements.ports[protocol] })) : [];
  const out = [
    `flush map ${table} ${NFT_REDIRECTS}`,
    `flush map ${table} ${NFT_VERDICTS}`,
    ...traffic.map(({ set }) => `flush set ${table} ${set}`),
    `flush chain ${table} ${NFT_FALLBACK_CHAIN}`,
  ];
  for (const r of elements.spreading) {
    const chain = `${table} ${ruleChain(r.protocol, r.port)}`;
    out.push(`add chain ${chain}`, `flush chain ${chain}`, `add rule ${chain} ${spreadRule(ruleset.family, r)}`);
  }
  const fallback = fallbackRule(ruleset.family, fallbackTargets(ruleset));
  if (fallback) out.push(`add rule ${table} ${NFT_FALLBACK_CHAIN} ${fallback}`);
  const add = (set: string, items: readonly string[]) => {
    if (items.length > 0) out.push(`add element ${table} ${set} {\n${elementList(items, '\t')}\n}`);
  };
  add(NFT_REDIRECTS, elements.redirects);
  add(NFT_VERDICTS, elements.verdicts);
  for (const { set, ports } of traffic) add(set, ports);
  return `${out.join('\n')}\n`;
}

/**
 * `iptables-restore --noflush` input that turns the nat chain rendered from `previous` into the
 * one rendered from `next`: the rules of changed and removed redirects deleted by their text,
 * those of changed and added ones inserted right after the chain's fixed head (redirects match
 * disjoint ports, so their order does not matter), the fallback's rules replaced at the end.
 * One table, one commit: all of it or none. An empty string when nothing differs; undefined when
 * a static part differs. The filter table never changes with the redirects.
 */
export function renderIptablesUpdate(previous: Ruleset, next: Ruleset): string | undefined {
  if (!sameStaticPart(previous, next)) return undefined;
  const chain = `${CHAIN_PREFIX}PREROUTING`;
  const deleted: string[] = [];
  const inserted: string[] = [];
  for (const { before, after } of changedRules(previous, next)) {
    if (before) deleted.push(...redirectRules(before));
    if (after) inserted.push(...redirectRules(after));
  }
  const appended: string[] = [];
  if (!sameTargets(fallbackTargets(previous), fallbackTargets(next))) {
    deleted.push(...fallbackRules(fallbackTargets(previous)));
    appended.push(...fallbackRules(fallbackTargets(next)));
  }
  if (deleted.length === 0 && inserted.length === 0 && appended.length === 0) return '';
  const head = natHeader(next).length;
  const out = ['*nat'];
  for (const rule of deleted) out.push(`-D ${chain} ${rule}`);
  inserted.forEach((rule, i) => out.push(`-I ${chain} ${head + 1 + i} ${rule}`));
  for (const rule of appended) out.push(`-A ${chain} ${rule}`);
  out.push('COMMIT');
  return `${out.join('\n')}\n`;
}
