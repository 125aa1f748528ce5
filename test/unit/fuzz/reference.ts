/**
 * An independent reading of the destination grammar, written from its specification (issue 2,
 * docs of src/config/destinations.ts) and not from the parser's code: ports by digit arithmetic,
 * IPv4 by octet arithmetic, IPv6 through the WHATWG URL parser instead of ip-num, DNS names by
 * character codes instead of regular expressions. The fuzz tests
 * compare the parser with it line by line, so a disagreement is either a parser bug or a
 * misreading here, and both are worth a look.
 */

export type Family = 4 | 6;
export type Protocol = 'tcp' | 'udp' | 'sctp';

export interface Target {
  family: Family;
  /** Canonical text: dotted decimal, or RFC 5952 (lower case, longest zero run compressed). */
  text: string;
}

/** A destination named by DNS: lower case, without a trailing dot. */
export interface NameTarget {
  name: string;
}

export type Destination = Target | NameTarget;

export const isName = (d: Destination): d is NameTarget => 'name' in d;

export interface ExpectedRule {
  line: number;
  protocol: Protocol;
  port: number;
  target: Destination;
  targetPort: number;
}

export interface Expected {
  family: Family | undefined;
  redirects: ExpectedRule[];
  fallback?: { line: number; target: Destination };
  /** The lines that must be reported, once each, in order. */
  errorLines: number[];
}

/** A decimal number in ASCII digits only, without sign or leading zero; undefined otherwise. */
function plainDecimal(text: string, maxDigits: number): number | undefined {
  if (text.length === 0 || text.length > maxDigits) return undefined;
  if (text.length > 1 && text.charCodeAt(0) === 48) return undefined;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) return undefined;
    value = value * 10 + (code - 48);
  }
  return value;
}

export function referencePort(text: string): number | undefined {
  const value = plainDecimal(text, 5);
  return value !== undefined && value >= 1 && value <= 65535 ? value : undefined;
}

export function referenceProtocol(text: string): Protocol | undefined {
  // ASCII case folding only: no other character may stand in for a letter of a protocol.
  let lower = '';
  for (const char of text) {
    const code = char.charCodeAt(0);
    lower += char.length === 1 && code >= 65 && code <= 90 ? String.fromCharCode(code + 32) : char;
  }
  return lower === 'tcp' || lower === 'udp' || lower === 'sctp' ? lower : undefined;
}

/** The four octets of a canonical dotted-decimal address, or undefined. */
function ipv4Octets(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const octets = parts.map((part) => plainDecimal(part, 3));
  return octets.every((o): o is number => o !== undefined && o <= 255) ? octets : undefined;
}

/** The eight 16-bit groups of an IPv6 address written in the characters IPv6 allows, or undefined. */
function ipv6Groups(text: string): number[] | undefined {
  // The URL parser drops tabs and newlines and decodes nothing inside brackets; keep it to IPv6's
  // own alphabet so that it judges only the address.
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  let host: string;
  try {
    host = new URL(`http://[${text}]/`).hostname;
  } catch {
    return undefined;
  }
  return expandIPv6(host.slice(1, -1));
}

/** Groups of an IPv6 address in hexadecimal groups with at most one `::` (no dotted tail). */
export function expandIPv6(text: string): number[] {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  return tail === undefined ? left : [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** RFC 5952 text: lower case, no leading zeros, the first longest run of two or more zero groups as `::`. */
export function formatIPv6(groups: readonly number[]): string {
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best === -1) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}

/** A destination as the grammar allows it, or undefined: canonical, unicast, not ambiguous. */
export function referenceAddress(text: string): Target | undefined {
  const octets = ipv4Octets(text);
  if (octets) {
    const [a] = octets as [number, ...number[]];
    if (a === 0 || a === 127 || (a >= 224 && a <= 239)) return undefined; // this network, loopback, multicast
    if (a >= 240) return undefined; // reserved 240.0.0.0/4, and the broadcast address in it
    return { family: 4, text };
  }
  const groups = ipv6Groups(text);
  if (!groups) return undefined;
  const [g0, g1, g2, g3, g4, g5] = groups as [number, number, number, number, number, number, ...number[]];
  const upperZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (upperZero && g5 === 0) return undefined; // unspecified, loopback, IPv4-compatible ::/96
  if (upperZero && g5 === 0xffff) return undefined; // IPv4-mapped
  if (g0 >> 8 === 0xff) return undefined; // multicast
  if ((g0 & 0xffc0) === 0xfe80) return undefined; // link-local
  return { family: 6, text: formatIPv6(groups) };
}

const isLowerLetter = (code: number): boolean => code >= 97 && code <= 122;
const isDigit = (code: number): boolean => code >= 48 && code <= 57;
const HYPHEN = 45;

/**
 * A DNS name as the grammar allows it (src/config/hostname.ts's specification): one trailing dot
 * dropped, ASCII letters folded to lower case and nothing else folded, at most 253 characters,
 * at least two labels of 1-63 letters, digits and hyphens, no label starting or ending with a
 * hyphen, and a last label that starts with a letter.
 */
export function referenceName(text: string): NameTarget | undefined {
  const bare = text.endsWith('.') ? text.slice(0, -1) : text;
  let name = '';
  for (let i = 0; i < bare.length; i++) {
    const code = bare.charCodeAt(i);
    name += code >= 65 && code <= 90 ? String.fromCharCode(code + 32) : bare[i];
  }
  if (name.length === 0 || name.length > 253) return undefined;
  const labels = name.split('.');
  if (labels.length < 2) return undefined;
  for (const label of labels) {
    if (label.length === 0 || label.length > 63) return undefined;
    if (label.charCodeAt(0) === HYPHEN || label.charCodeAt(label.length - 1) === HYPHEN) return undefined;
    for (let i = 0; i < label.length; i++) {
      const code = label.charCodeAt(i);
      if (!isLowerLetter(code) && !isDigit(code) && code !== HYPHEN) return undefined;
    }
  }
  if (!isLowerLetter(labels[labels.length - 1]!.charCodeAt(0))) return undefined;
  return { name };
}

/** An address, else a name, else undefined. */
export const referenceDestination = (text: string): Destination | undefined => referenceAddress(text) ?? referenceName(text);

/** A line's rule text: without the line end's CR, the comment, and the blanks around it. */
export function referenceRuleText(raw: string): string {
  let text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  const hash = text.indexOf('#');
  if (hash !== -1) text = text.slice(0, hash);
  let start = 0;
  let end = text.length;
  while (start < end && (text[start] === ' ' || text[start] === '\t')) start++;
  while (end > start && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  return text.slice(start, end);
}

/** Splits on runs of spaces and tabs, by hand. */
function fields(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const char of text) {
    if (char === ' ' || char === '\t') {
      if (current !== '') out.push(current);
      current = '';
    } else current += char;
  }
  if (current !== '') out.push(current);
  return out;
}

type LineReading =
  | { kind: 'redirect'; protocol: Protocol; port: number; target: Destination; targetPort: number }
  | { kind: 'fallback'; target: Destination }
  | { kind: 'invalid' };

function readLine(text: string): LineReading {
  const f = fields(text);
  if (f.length === 1) {
    const target = referenceDestination(f[0]!);
    return target ? { kind: 'fallback', target } : { kind: 'invalid' };
  }
  if (f.length !== 3 && f.length !== 4) return { kind: 'invalid' };
  const port = referencePort(f[0]!);
  const protocol = referenceProtocol(f[1]!);
  const target = referenceDestination(f[2]!);
  const targetPort = f.length === 4 ? referencePort(f[3]!) : port;
  if (port === undefined || protocol === undefined || target === undefined || targetPort === undefined) return { kind: 'invalid' };
  return { kind: 'redirect', protocol, port, target, targetPort };
}

/**
 * What the grammar says of a whole list: the rules it holds, and which lines are wrong. A line
 * is wrong if it does not parse, follows the fallback, has the other family (names have none),
 * or reuses a (port, protocol) pair; a wrong line takes no part in the checks of the lines after it.
 */
export function referenceParse(source: string, family?: Family): Expected {
  const expected: Expected = { family, redirects: [], errorLines: [] };
  const used = new Set<string>();
  const withoutMark = source.startsWith('\ufeff') ? source.slice(1) : source; // a leading byte-order mark is skipped
  withoutMark.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const text = referenceRuleText(raw);
    if (text === '') return;
    if (expected.fallback) {
      expected.errorLines.push(line);
      return;
    }
    const reading = readLine(text);
    if (reading.kind === 'invalid') {
      expected.errorLines.push(line);
      return;
    }
    if (!isName(reading.target)) {
      if (expected.family === undefined) expected.family = reading.target.family;
      else if (expected.family !== reading.target.family) {
        expected.errorLines.push(line);
        return;
      }
    }
    if (reading.kind === 'fallback') {
      expected.fallback = { line, target: reading.target };
      return;
    }
    const key = `${reading.port} ${reading.protocol}`;
    if (used.has(key)) {
      expected.errorLines.push(line);
      return;
    }
    used.add(key);
    const { protocol, port, target, targetPort } = reading;
    expected.redirects.push({ line, protocol, port, target, targetPort });
  });
  return expected;
}

/**
 * The texts a message quotes ('...'), unescaped: JSON-style escapes, `\u{...}` for non-ASCII,
 * and the `…(N characters)` mark of a cut. Each comes with whether it was cut.
 */
export function quotedTexts(message: string): { text: string; cut: boolean }[] {
  const found: { text: string; cut: boolean }[] = [];
  let i = 0;
  while ((i = message.indexOf("'", i)) !== -1) {
    let text = '';
    let j = i + 1;
    let closed = false;
    while (j < message.length) {
      const char = message[j]!;
      if (char === "'") {
        closed = true;
        break;
      }
      if (char !== '\\') {
        text += char;
        j++;
        continue;
      }
      const next = message[j + 1];
      const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', '\\': '\\', '"': '"', "'": "'" };
      if (next !== undefined && next in simple) {
        text += simple[next];
        j += 2;
      } else if (next === 'u' && message[j + 2] === '{') {
        const close = message.indexOf('}', j);
        text += String.fromCodePoint(parseInt(message.slice(j + 3, close), 16));
        j = close + 1;
      } else if (next === 'u') {
        text += String.fromCharCode(parseInt(message.slice(j + 2, j + 6), 16));
        j += 6;
      } else {
        text += char;
        j++;
      }
    }
    if (!closed) break;
    const mark = /…\(\d+ characters\)$/.exec(text);
    found.push(mark ? { text: text.slice(0, mark.index), cut: true } : { text, cut: false });
    i = j + 1;
  }
  return found;
}
