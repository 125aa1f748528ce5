/** Large destination lists for the size tests, built deterministically. */

const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;
/** Every (port, protocol) pair once: the most rules a valid list can hold. */
export const MAX_RULES = 65535 * PROTOCOLS.length;

export interface BigList {
  text: string;
  lines: number;
  /** The rule on each line, as `port/protocol -> address:port`. */
  rule: (line: number) => string;
}

/**
 * A list of at least `bytes` bytes: one valid IPv4 redirect per line, each with a distinct
 * (port, protocol) and a padding comment, and LF or CRLF line ends.
 */
export function bigList(bytes: number, options: { crlf?: boolean } = {}): BigList {
  const end = options.crlf ? '\r\n' : '\n';
  const parts: string[] = [];
  let size = 0;
  const ruleAt = (i: number) => {
    const port = (i % 65535) + 1;
    const protocol = PROTOCOLS[Math.floor(i / 65535)]!;
    const address = `203.0.${(i >> 7) & 255}.${(i & 127) + 1}`;
    const remote = (port % 1000) + 1;
    return { port, protocol, address, remote };
  };
  for (let i = 0; size < bytes; i++) {
    if (i >= MAX_RULES) throw new Error(`${bytes} bytes need more than ${MAX_RULES} rules`);
    const { port, protocol, address, remote } = ruleAt(i);
    const line = `${port}\t${protocol} ${address} ${remote}   # rule ${i + 1} of a big list${end}`;
    parts.push(line);
    size += line.length;
  }
  return {
    text: parts.join(''),
    lines: parts.length,
    rule: (line) => {
      const { port, protocol, address, remote } = ruleAt(line - 1);
      return `${port}/${protocol} -> ${address}:${remote}`;
    },
  };
}

/** The same text with line `n` (1-based) replaced. */
export function replaceLine(text: string, n: number, replacement: string): string {
  let start = 0;
  for (let i = 1; i < n; i++) start = text.indexOf('\n', start) + 1;
  const end = text.indexOf('\n', start);
  const crlf = end > 0 && text[end - 1] === '\r';
  return text.slice(0, start) + replacement + (crlf ? '\r' : '') + text.slice(end === -1 ? text.length : end);
}
