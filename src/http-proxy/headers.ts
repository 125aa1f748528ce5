/**
 * Header fields between the two connections, pure. Hop-by-hop fields (RFC 9110 section 7.6.1)
 * describe one connection and are not forwarded: the standard ones, and every field the
 * Connection header names. Node frames each side itself (Content-Length or chunked), so
 * Transfer-Encoding is dropped and re-applied where a body needs it. Unlike squid, no
 * X-Forwarded-For is added: the destination learns nothing about the client pod.
 */

const HOP_BY_HOP = new Set([
  // Not hop-by-hop, but answered here: Node's server sends the client its 100 Continue itself.
  'expect',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** RFC 9110 section 7.6.3: a proxy adds itself to Via, in requests and responses. */
export const VIA = '1.1 egress-router';

/** Field names listed in Connection (and the legacy Proxy-Connection), lower case. */
function connectionTokens(raw: readonly string[], lower: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = lower[i >> 1]!;
    if (name !== 'connection' && name !== 'proxy-connection') continue;
    for (const token of raw[i + 1]!.split(',')) {
      const t = token.trim().toLowerCase();
      // The body's length is never one connection's business: stripping it would unframe the body.
      if (t !== '' && t !== 'content-length') (tokens ??= new Set()).add(t);
    }
  }
  return tokens;
}

/** The field names in lower case, once: every decision below compares them. */
function lowerNames(raw: readonly string[]): string[] {
  const lower = new Array<string>(raw.length >> 1);
  for (let i = 0; i < raw.length; i += 2) lower[i >> 1] = raw[i]!.toLowerCase();
  return lower;
}

/**
 * The request's fields for the destination, as name, value, name, value...: hop-by-hop ones
 * removed, Host set to the URL's authority (an absolute-form URL overrides the client's Host),
 * Via added. The HTTP client frames the body itself (Content-Length, else chunked). With
 * `upgrade`, the Upgrade field and `Connection: upgrade` are kept: the destination must see them.
 */
export function requestHeaders(raw: readonly string[], authority: string, upgrade = false): string[] {
  const lowerNamesOf = lowerNames(raw);
  const named = connectionTokens(raw, lowerNamesOf);
  const headers: string[] = ['Host', authority];
  let via: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = lowerNamesOf[i >> 1]!;
    if (lower === 'host') continue;
    if (lower === 'via') {
      via = via === undefined ? raw[i + 1]! : `${via}, ${raw[i + 1]!}`;
      continue;
    }
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) {
      if (upgrade && lower === 'upgrade') headers.push(name, raw[i + 1]!);
      continue;
    }
    headers.push(name, raw[i + 1]!);
  }
  headers.push('Via', via === undefined ? VIA : `${via}, ${VIA}`);
  if (upgrade) headers.push('Connection', 'upgrade');
  return headers;
}

/**
 * The response's fields for the client: hop-by-hop ones removed, Via added. The HTTP client
 * hands them over as bytes; field text is Latin-1 on the wire.
 */
export function responseHeaders(rawBytes: readonly (string | Buffer)[]): string[] {
  const raw = new Array<string>(rawBytes.length);
  for (let i = 0; i < rawBytes.length; i++) {
    const field = rawBytes[i]!;
    raw[i] = typeof field === 'string' ? field : field.toString('latin1');
  }
  const lowerNamesOf = lowerNames(raw);
  const named = connectionTokens(raw, lowerNamesOf);
  const headers: string[] = [];
  let via: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = lowerNamesOf[i >> 1]!;
    if (lower === 'via') {
      via = via === undefined ? raw[i + 1]! : `${via}, ${raw[i + 1]!}`;
      continue;
    }
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    headers.push(name, raw[i + 1]!);
  }
  headers.push('Via', via === undefined ? VIA : `${via}, ${VIA}`);
  return headers;
}

/** A request head in HTTP/1.1 wire form, for the raw connection of an Upgrade. */
export function serializeRequestHead(method: string, path: string, headers: readonly string[]): string {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}
