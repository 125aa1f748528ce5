/**
 * fast-check generators for destination lists: valid lists that know the rules they hold, the
 * mutations that turn them into near-misses (the mistakes people and editors make, and the
 * look-alikes an attacker would try), and plain noise.
 */
import fc from 'fast-check';
import { type Destination, type ExpectedRule, type Family, type Protocol, formatIPv6 } from './reference.js';

export interface Spelled {
  /** As written in the list. */
  text: string;
  /** As the parser must return it. */
  target: Destination;
}

const byte = fc.integer({ min: 0, max: 255 });

/** Unicast IPv4 outside every range the grammar refuses. */
export const ipv4 = fc
  .tuple(fc.integer({ min: 1, max: 223 }).filter((a) => a !== 127), byte, byte, byte)
  .map(([a, b, c, d]): Spelled => {
    const text = `${a}.${b}.${c}.${d}`;
    return { text, target: { family: 4, text } };
  });

/** How an IPv6 address may be written: all mean the same address. */
const IPV6_STYLES = ['canonical', 'full', 'padded', 'upper', 'anyRun'] as const;

function spellIPv6(groups: number[], style: (typeof IPV6_STYLES)[number], pick: number): string {
  const canonical = formatIPv6(groups);
  switch (style) {
    case 'canonical':
      return canonical;
    case 'full':
      return groups.map((g) => g.toString(16)).join(':');
    case 'padded':
      return groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
    case 'upper':
      return canonical.toUpperCase();
    case 'anyRun': {
      // `::` over any run of zero groups, even a single one or not the longest: valid, not canonical.
      const runs: [number, number][] = [];
      for (let i = 0; i < 8; i++) {
        if (groups[i] !== 0) continue;
        let j = i;
        while (j < 8 && groups[j] === 0) j++;
        for (let end = i + 1; end <= j; end++) runs.push([i, end]);
        i = j;
      }
      if (runs.length === 0) return canonical;
      const [start, end] = runs[pick % runs.length]!;
      const hex = groups.map((g) => g.toString(16));
      return `${hex.slice(0, start).join(':')}::${hex.slice(end).join(':')}`;
    }
  }
}

/** Global unicast IPv6 (2000::/3), often with zero groups, in any of its spellings. */
export const ipv6 = fc
  .tuple(
    fc.integer({ min: 0x2000, max: 0x3fff }),
    fc.array(fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 2 }), {
      minLength: 7,
      maxLength: 7,
    }),
    fc.constantFrom(...IPV6_STYLES),
    fc.nat(),
  )
  .map(([first, rest, style, pick]): Spelled => {
    const groups = [first, ...rest];
    return { text: spellIPv6(groups, style, pick), target: { family: 6, text: formatIPv6(groups) } };
  });

export const addressOf = (family: Family): fc.Arbitrary<Spelled> => (family === 4 ? ipv4 : ipv6);

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const letter = fc.constantFrom(...LETTERS);
const labelChar = fc.constantFrom(...`${LETTERS}0123456789-`);
const alphanumeric = fc.constantFrom(...`${LETTERS}0123456789`);
/** A DNS label: 1-63 letters, digits and hyphens, no hyphen at either end; the last starts with a letter. */
const label = (first: fc.Arbitrary<string>) =>
  fc
    .tuple(first, fc.string({ unit: labelChar, maxLength: 61 }), alphanumeric, fc.boolean())
    .map(([a, middle, z, short]) => (short ? a : `${a}${middle}${z}`));

/** A valid DNS name, in mixed case and sometimes with a trailing dot, and the name it stands for. */
export const hostName = fc
  .tuple(fc.array(label(alphanumeric), { minLength: 1, maxLength: 3 }), label(letter), fc.boolean())
  .filter(([labels, last]) => [...labels, last].join('.').length <= 253)
  .chain(([labels, last, dot]) => {
    const name = [...labels, last].join('.');
    return fc.mixedCase(fc.constant(name)).map((spelled): Spelled => ({ text: dot ? `${spelled}.` : spelled, target: { name } }));
  });

/** Mostly addresses of the family, sometimes a name. */
export const destinationOf = (family: Family): fc.Arbitrary<Spelled> =>
  fc.oneof({ arbitrary: addressOf(family), weight: 3 }, { arbitrary: hostName, weight: 1 });

export const port = fc.integer({ min: 1, max: 65535 });
const protocol = fc.constantFrom<Protocol>('tcp', 'udp', 'sctp');

/** One or more spaces and tabs. */
export const blanks = fc.array(fc.constantFrom(' ', '\t'), { minLength: 1, maxLength: 4 }).map((a) => a.join(''));
const optionalBlanks = fc.oneof(fc.constant(''), blanks);
/** Comment text: anything but a line feed, control characters and non-ASCII included. */
const commentText = fc.string({ unit: 'binary', maxLength: 16 }).map((s) => s.replace(/\n/g, ' '));
const trailing = fc.oneof(
  { arbitrary: fc.constant(''), weight: 3 },
  { arbitrary: fc.tuple(optionalBlanks, commentText).map(([b, c]) => `${b}#${c}`), weight: 1 },
);
/** Lines that hold no rule: blank, blanks, or a comment. */
const filler = fc.oneof(fc.constant(''), blanks, fc.tuple(optionalBlanks, commentText).map(([b, c]) => `${b}#${c}`));

interface RuleSpec {
  port: number;
  protocol: Protocol;
  protocolText: string;
  address: Spelled;
  remotePort: number | undefined;
  layout: { lead: string; seps: [string, string, string]; tail: string; before: string[] };
}

const layout = fc.record({
  lead: optionalBlanks,
  seps: fc.tuple(blanks, blanks, blanks),
  tail: fc.tuple(optionalBlanks, trailing).map(([b, t]) => b + t),
  before: fc.array(filler, { maxLength: 2 }),
});

const ruleSpec = (family: Family): fc.Arbitrary<RuleSpec> =>
  fc
    .record({ port, protocol, address: destinationOf(family), remotePort: fc.option(port, { nil: undefined }), layout })
    .chain((r) => fc.mixedCase(fc.constant(r.protocol)).map((protocolText) => ({ ...r, protocolText })));

export interface ValidList {
  family: Family;
  /** The lines, without line ends. */
  lines: string[];
  /** The full text, with the chosen line ends. */
  text: string;
  redirects: ExpectedRule[];
  fallback: { line: number; target: Destination } | undefined;
}

/** Joins lines with LF or CRLF, per line, with or without a final line end. */
export function joinLines(lines: readonly string[], crlf: readonly boolean[], finalEnd: boolean): string {
  return lines.map((line, i) => (i < lines.length - 1 || finalEnd ? `${line}${crlf[i % Math.max(crlf.length, 1)] ? '\r\n' : '\n'}` : line)).join('');
}

/** A valid list of one family, and the rules it must parse to, in order. */
export const validList: fc.Arbitrary<ValidList> = fc.constantFrom<Family>(4, 6).chain((family) =>
  fc
    .record({
      rules: fc.uniqueArray(ruleSpec(family), { selector: (r) => `${r.port}/${r.protocol}`, maxLength: 20 }),
      fallback: fc.option(fc.record({ address: destinationOf(family), lead: optionalBlanks, tail: fc.tuple(optionalBlanks, trailing).map(([b, t]) => b + t) }), {
        nil: undefined,
      }),
      after: fc.array(filler, { maxLength: 2 }),
      crlf: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
      finalEnd: fc.boolean(),
    })
    .map(({ rules, fallback, after, crlf, finalEnd }): ValidList => {
      const lines: string[] = [];
      const redirects: ExpectedRule[] = [];
      for (const r of rules) {
        lines.push(...r.layout.before);
        const [s1, s2, s3] = r.layout.seps;
        const remote = r.remotePort === undefined ? '' : `${s3}${r.remotePort}`;
        lines.push(`${r.layout.lead}${r.port}${s1}${r.protocolText}${s2}${r.address.text}${remote}${r.layout.tail}`);
        redirects.push({ line: lines.length, protocol: r.protocol, port: r.port, target: r.address.target, targetPort: r.remotePort ?? r.port });
      }
      let fallbackRule: ValidList['fallback'];
      if (fallback) {
        lines.push(`${fallback.lead}${fallback.address.text}${fallback.tail}`);
        fallbackRule = { line: lines.length, target: fallback.address.target };
      }
      lines.push(...after);
      return { family, lines, text: joinLines(lines, crlf, finalEnd), redirects, fallback: fallbackRule };
    }),
);

/** Characters that look harmless, or like digits, or like blanks, or end a line where they should not. */
export const INSERTIONS = [
  '\t', ' ', '\r', '\0', '\v', '\f', '\u0085', '\u00a0', '\u2028', '\u3000', '\ufeff', '\u200b',
  '٣', '８', '𝟠', '\ud800', '+', '-', 'e', 'E', '.', ':', '0', '#', '%', '/', '[', ']', 'x', 'é', '\u212a', '_',
] as const;

/** Fields that are near misses (and a few that are fine) for every column. */
export const FIELDS = [
  // ports
  '+80', '-80', '8e1', '8E1', '1e3', '0x50', '080', '00', '0', '65536', '65535', '99999', '100000', '٣', '٨٠', '８０', '８', '𝟠𝟘',
  '80.0', '1_000', 'Infinity', 'NaN', '１', '1', '443',
  // protocols
  'tcp', 'TCP', 'udp', 'Sctp', 'icmp', 'tcp6', 'ｔｃｐ', 'ＴＣＰ', 'tcp\0', 'tc p', 'udp\u200b',
  // addresses
  '010.1.1.1', '1.2.3.04', '00.1.2.3', '203.000.113.1', '::ffff:1.2.3.4', '::FFFF:102:304', '::ffff:203.0.113.1', '0:0:0:0:0:ffff:cb00:7101',
  '999.1.1.1', '256.1.1.1', '127.0.0.1', '224.0.0.1', '239.1.1.1', '255.255.255.255', '0.0.0.0', '0.1.2.3', '::1', '::', 'fe80::1',
  'ff02::1', '1.2.3', '1.2.3.4.5', '1.2.3.4/32', '2001:db8::1%eth0', '[2001:db8::1]', '٣.1.1.1', '１.2.3.4', '203.0.113.١', '203.0.113.1',
  '2001:db8::1', '2001:DB8:0:0:0:0:0:1', '2001:0db8::0001', '::1.2.3.4', '64:ff9b::1.2.3.4', '1::2:3:4:5:6:7', '2001:db8::01.2.3.4',
  '2001:db8:::1', '12345::1', '0x7f.1', '1.1', '3232235777', '203.0.113.1.', '.203.0.113.1',
  // names
  'db.example.com', 'DB.Example.COM.', 'example', 'exa_mple.com', '-db.example.com', 'db-.example.com', 'db..example.com',
  'db.example.com..', '.db.example.com', 'db.1example', '1.2.3.com', `${'a'.repeat(64)}.com`, `${'a'.repeat(63)}.com`, 'xn--bcher-kva.example',
  'ex\u212aample.com', 'exämple.com', '203.0.113.8e1', 'db.example.c0m', `${'a.'.repeat(126)}com`, `${'a.'.repeat(125)}com`,
] as const;

/** Valid addresses of each family, to put a rule in the wrong family. */
const OTHER_FAMILY = ['203.0.113.7', '198.51.100.1', '2001:db8::7', '2606:4700::1111'] as const;

const MUTATIONS = [
  'insert', 'atFieldEdge', 'replaceField', 'swapFields', 'dropField', 'extraField', 'duplicateLine', 'moveLine', 'joinLines', 'splitLine',
  'truncate', 'deleteChar', 'otherFamily', 'upperCase', 'crOnly',
] as const;

export interface Mutation {
  kind: (typeof MUTATIONS)[number];
  line: number;
  at: number;
  other: number;
  insertion: string;
  field: string;
  family: string;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom(...MUTATIONS),
  line: fc.nat(),
  at: fc.nat(),
  other: fc.nat(),
  insertion: fc.constantFrom(...INSERTIONS),
  field: fc.constantFrom(...FIELDS),
  family: fc.constantFrom(...OTHER_FAMILY),
});

/** A line's fields and the blanks between them, so that one field can change and the rest stay. */
function tokens(line: string): string[] {
  return line.split(/([ \t]+)/);
}
const fieldIndexes = (parts: string[]) => parts.map((p, i) => (i % 2 === 0 && p !== '' ? i : -1)).filter((i) => i !== -1);

/** Applies one mutation to a copy of the lines; indexes wrap, so every mutation applies somewhere. */
export function mutate(lines: readonly string[], m: Mutation): string[] {
  const out = lines.length === 0 ? [''] : [...lines];
  const n = m.line % out.length;
  const line = out[n]!;
  const parts = tokens(line);
  const fields = fieldIndexes(parts);
  const pickField = (k: number) => fields[k % Math.max(fields.length, 1)];
  switch (m.kind) {
    case 'insert': {
      const at = m.at % (line.length + 1);
      out[n] = line.slice(0, at) + m.insertion + line.slice(at);
      break;
    }
    case 'atFieldEdge': {
      // Just before or after a field, where trimming or case folding might quietly absorb it.
      const i = pickField(m.at);
      if (i !== undefined) parts[i] = m.other % 2 ? `${parts[i]}${m.insertion}` : `${m.insertion}${parts[i]}`;
      out[n] = parts.join('');
      break;
    }
    case 'replaceField': {
      const i = pickField(m.at);
      if (i === undefined) out[n] = m.field;
      else {
        parts[i] = m.field;
        out[n] = parts.join('');
      }
      break;
    }
    case 'swapFields': {
      const i = pickField(m.at);
      const j = pickField(m.other);
      if (i !== undefined && j !== undefined) [parts[i], parts[j]] = [parts[j]!, parts[i]!];
      out[n] = parts.join('');
      break;
    }
    case 'dropField': {
      const i = pickField(m.at);
      if (i !== undefined) parts[i] = '';
      out[n] = parts.join('');
      break;
    }
    case 'extraField':
      out[n] = `${line} ${m.field}`;
      break;
    case 'duplicateLine':
      out.splice(m.other % (out.length + 1), 0, line);
      break;
    case 'moveLine':
      out.splice(n, 1);
      out.splice(m.other % (out.length + 1), 0, line);
      break;
    case 'joinLines':
      if (n + 1 < out.length) out.splice(n, 2, `${line}${m.at % 2 ? ' ' : ''}${out[n + 1]}`);
      break;
    case 'splitLine': {
      const at = m.at % (line.length + 1);
      out.splice(n, 1, line.slice(0, at), line.slice(at));
      break;
    }
    case 'truncate':
      out[n] = line.slice(0, m.at % (line.length + 1));
      break;
    case 'deleteChar': {
      const at = m.at % Math.max(line.length, 1);
      out[n] = line.slice(0, at) + line.slice(at + 1);
      break;
    }
    case 'otherFamily': {
      const i = fields.find((k) => /[.:]/.test(parts[k]!));
      if (i !== undefined) parts[i] = m.family;
      out[n] = parts.join('');
      break;
    }
    case 'upperCase':
      out[n] = line.toUpperCase();
      break;
    case 'crOnly':
      // An old Mac file: CR alone ends the line, so to LF readers two lines become one.
      if (n + 1 < out.length) out.splice(n, 2, `${line}\r${out[n + 1]}`);
      break;
  }
  return out;
}

/** A valid list after one to four mutations. */
export const mutatedList = fc
  .record({ list: validList, mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }), crlf: fc.boolean() })
  .map(({ list, mutations, crlf }) => {
    const lines = mutations.reduce<string[]>((acc, m) => mutate(acc, m), list.lines);
    return { family: list.family, lines, text: joinLines(lines, [crlf], false) };
  });

/** Lists assembled from the grammar's pieces in any order: mostly wrong, sometimes right. */
const TOKENS = [
  ...FIELDS, ...INSERTIONS, '80', '8080', '53', 'tcp', 'udp', 'sctp', '203.0.113.25', '2001:db8::25', ' ', ' ', '\t', '\n', '\n', '\r\n', '#', '# c',
] as const;
export const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((t) => t.join(''));

/** Any text at all, any code point. */
export const anyText = fc.string({ unit: 'binary', maxLength: 300 });
