/**
 * What a client asks the proxy for, read from the request line, pure: an absolute-form URL
 * (`GET http://example.com:8080/path HTTP/1.1`) or a CONNECT authority (`example.com:443`).
 * Anything else is a 400, and an address the proxy must never connect to (loopback, multicast,
 * unspecified) a 403, whatever the rules say.
 */
import { addressValue, parseNetwork, parseUnicastAddress } from '../config/address.js';
import { parseHostName } from '../config/hostname.js';
import { parsePort } from '../config/destinations.js';
import type { ResolvedAddress } from './names.js';

export type TargetHost = { kind: 'name'; name: string } | { kind: 'address'; address: ResolvedAddress };

export interface Target {
  host: TargetHost;
  port: number;
  /** The path and query for the destination (origin form); `/` when the URL has none. */
  path: string;
  /** The Host header for the destination: host and port as the client wrote them. */
  authority: string;
}

export type TargetResult = { ok: true; target: Target } | { ok: false; status: 400 | 403; reason: string };

const bad = (reason: string): TargetResult => ({ ok: false, status: 400, reason });

type HostResult = { ok: true; host: TargetHost } | { ok: false; status: 400 | 403; reason: string };

/**
 * Hosts already read, by their text: clients ask for the same few hosts over and over, and
 * reading an address through ip-num costs more than the rest of a request. Bounded; emptied
 * when full.
 */
const seenHosts = new Map<string, HostResult>();
const MAX_SEEN_HOSTS = 4096;

function parseHost(text: string): HostResult {
  let result = seenHosts.get(text);
  if (result === undefined) {
    if (seenHosts.size >= MAX_SEEN_HOSTS) seenHosts.clear();
    result = readHost(text);
    seenHosts.set(text, result);
  }
  return result;
}

/** The host part of an authority: a name, a dotted IPv4 address, or a bracketed IPv6 address. */
function readHost(text: string): { ok: true; host: TargetHost } | { ok: false; status: 400 | 403; reason: string } {
  const bracketed = text.startsWith('[') && text.endsWith(']');
  const literal = bracketed ? text.slice(1, -1) : text;
  if (bracketed || /^[0-9.]+$/.test(text)) {
    // Brackets hold IPv6 addresses only, and IPv6 addresses need them.
    if (!parseNetwork(literal).ok || bracketed !== literal.includes(':')) return { ok: false, status: 400, reason: `invalid address ${text}` };
    const parsed = parseUnicastAddress(literal);
    if (!parsed.ok) return { ok: false, status: 403, reason: `not a destination: ${parsed.reason}` };
    return { ok: true, host: { kind: 'address', address: { ...parsed.address, value: addressValue(parsed.address) } } };
  }
  const name = parseHostName(text);
  if (!name.ok) return { ok: false, status: 400, reason: `invalid host name: ${name.reason}` };
  return { ok: true, host: { kind: 'name', name: name.host.name } };
}

/** `host[:port]` with an optional port (absolute form) or a required one (CONNECT). */
function parseAuthority(authority: string, defaultPort: number | undefined): { ok: true; host: TargetHost; port: number } | { ok: false; status: 400 | 403; reason: string } {
  if (authority.includes('@')) return { ok: false, status: 400, reason: 'credentials in the URL are not forwarded' };
  const close = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  const hasPort = colon > close && (authority.startsWith('[') || authority.indexOf(':') === colon);
  const hostText = hasPort ? authority.slice(0, colon) : authority;
  const portText = hasPort ? authority.slice(colon + 1) : '';
  let port = defaultPort;
  if (portText !== '') port = parsePort(portText);
  if (port === undefined) {
    return { ok: false, status: 400, reason: defaultPort === undefined && portText === '' ? 'CONNECT needs host:port' : `invalid port ${portText}` };
  }
  const host = parseHost(hostText);
  return host.ok ? { ok: true, host: host.host, port } : host;
}

/** An absolute-form request target; only `http://` (HTTPS goes through CONNECT). */
export function parseAbsoluteForm(url: string): TargetResult {
  if (url.startsWith('/') || url === '*') return bad('not a proxy request (origin form); send the full URL, http://host/path');
  if (url.length < 7 || url.slice(0, 7).toLowerCase() !== 'http://') {
    return bad(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? 'only http:// URLs are proxied; use CONNECT for https' : 'malformed request target');
  }
  const rest = url.slice(7);
  let end = rest.length;
  for (const stop of ['/', '?', '#']) {
    const at = rest.indexOf(stop);
    if (at !== -1 && at < end) end = at;
  }
  const authority = rest.slice(0, end);
  const parsed = parseAuthority(authority, 80);
  if (!parsed.ok) return parsed;
  const tail = rest.slice(end);
  const hash = tail.indexOf('#');
  const path = hash === -1 ? tail : tail.slice(0, hash);
  return {
    ok: true,
    target: { host: parsed.host, port: parsed.port, path: path === '' ? '/' : path.startsWith('/') ? path : `/${path}`, authority },
  };
}

/** A CONNECT request target: `host:port`, `[v6]:port`. */
export function parseConnectTarget(authority: string): TargetResult {
  const parsed = parseAuthority(authority, undefined);
  if (!parsed.ok) return parsed;
  return { ok: true, target: { host: parsed.host, port: parsed.port, path: '', authority } };
}

/** The target as logs and error pages name it. */
export function targetText(target: Target): string {
  const host = target.host.kind === 'name' ? target.host.name : target.host.address.family === 6 ? `[${target.host.address.text}]` : target.host.address.text;
  return `${host}:${target.port}`;
}
