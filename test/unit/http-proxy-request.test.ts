/** What the proxy reads from a request line, and the header fields it passes on either way. */
import { describe, expect, it } from 'vitest';
import { requestHeaders, responseHeaders, serializeRequestHead } from '../../src/http-proxy/headers.js';
import { parseAbsoluteForm, parseConnectTarget, targetText } from '../../src/http-proxy/target.js';

describe('request targets: absolute form', () => {
  it('reads host, port, path and query, and keeps the authority for the Host field', () => {
    const parsed = parseAbsoluteForm('http://Example.COM:8080/a/b?c=d#frag');
    expect(parsed).toEqual({ ok: true, target: { host: { kind: 'name', name: 'example.com' }, port: 8080, path: '/a/b?c=d', authority: 'Example.COM:8080' } });
  });

  it('defaults to port 80 and path /, and takes a query without a path', () => {
    expect(parseAbsoluteForm('HTTP://example.com')).toMatchObject({ target: { port: 80, path: '/' } });
    expect(parseAbsoluteForm('http://example.com:/x')).toMatchObject({ target: { port: 80, path: '/x' } });
    expect(parseAbsoluteForm('http://example.com?q')).toMatchObject({ target: { path: '/?q' } });
  });

  it('reads literal IPv4 and bracketed IPv6 addresses canonically, with their values', () => {
    expect(parseAbsoluteForm('http://203.0.113.25/')).toMatchObject({ target: { host: { kind: 'address', address: { family: 4, text: '203.0.113.25', value: 0xcb007119n } } } });
    expect(parseAbsoluteForm('http://[2001:DB8::1]:81/')).toMatchObject({ target: { host: { kind: 'address', address: { family: 6, text: '2001:db8::1' } }, port: 81 } });
    const v6 = parseAbsoluteForm('http://[2001:db8::1]/');
    expect(v6.ok && targetText(v6.target)).toBe('[2001:db8::1]:80');
  });

  it('refuses origin form, other schemes, credentials and bad ports with 400', () => {
    for (const [url, reason] of [
      ['/index.html', 'not a proxy request (origin form); send the full URL, http://host/path'],
      ['*', 'not a proxy request (origin form); send the full URL, http://host/path'],
      ['https://example.com/', 'only http:// URLs are proxied; use CONNECT for https'],
      ['example.com/x', 'malformed request target'],
      ['http://user:pw@example.com/', 'credentials in the URL are not forwarded'],
      ['http://example.com:0/', 'invalid port 0'],
      ['http://example.com:65536/', 'invalid port 65536'],
      ['http://example.com:08/', 'invalid port 08'],
    ] as const) {
      expect(parseAbsoluteForm(url)).toEqual({ ok: false, status: 400, reason });
    }
  });

  it('refuses hosts that are neither names nor canonical addresses with 400, so that no spelling of an address slips past the rules', () => {
    for (const host of ['localhost', '999.1.1.1', '010.1.1.1', '2130706433', '0x7f.1', '[::1', 'a_b.example.com', '', '[203.0.113.25]', '2001:db8::1']) {
      expect(parseAbsoluteForm(`http://${host}/`)).toMatchObject({ ok: false, status: 400 });
    }
  });

  it('refuses addresses that are never destinations with 403, whatever the rules', () => {
    expect(parseAbsoluteForm('http://127.0.0.1:9552/metrics')).toEqual({ ok: false, status: 403, reason: 'not a destination: 127.0.0.1 is a loopback address' });
    expect(parseAbsoluteForm('http://[::1]/')).toMatchObject({ ok: false, status: 403 });
    expect(parseAbsoluteForm('http://0.0.0.0/')).toMatchObject({ ok: false, status: 403 });
    expect(parseAbsoluteForm('http://224.0.0.1/')).toMatchObject({ ok: false, status: 403 });
  });
});

describe('request targets: CONNECT', () => {
  it('needs host and port', () => {
    expect(parseConnectTarget('example.com:443')).toMatchObject({ ok: true, target: { host: { kind: 'name', name: 'example.com' }, port: 443, path: '' } });
    expect(parseConnectTarget('[2001:db8::1]:22')).toMatchObject({ ok: true, target: { host: { kind: 'address' }, port: 22 } });
    expect(parseConnectTarget('example.com')).toEqual({ ok: false, status: 400, reason: 'CONNECT needs host:port' });
    expect(parseConnectTarget('http://example.com:443')).toMatchObject({ ok: false, status: 400 });
  });
});

describe('header fields', () => {
  it('drops hop-by-hop fields and the ones Connection names, sets Host from the URL, and appends to Via', () => {
    const raw = [
      'Host', 'wrong.example.com',
      'Connection', 'keep-alive, X-Secret',
      'X-Secret', 'hop',
      'Keep-Alive', 'timeout=5',
      'Proxy-Connection', 'keep-alive',
      'Proxy-Authorization', 'Basic eA==',
      'TE', 'trailers',
      'Transfer-Encoding', 'chunked',
      'Expect', '100-continue',
      'Upgrade', 'websocket',
      'Via', '1.0 other',
      'Accept', '*/*',
      'accept', 'text/plain',
    ];
    expect(requestHeaders(raw, 'example.com:8080')).toEqual(['Host', 'example.com:8080', 'Accept', '*/*', 'accept', 'text/plain', 'Via', '1.0 other, 1.1 egress-router']);
  });

  it('never drops Content-Length, even when Connection names it', () => {
    expect(requestHeaders(['Connection', 'content-length', 'Content-Length', '3'], 'h.example')).toContain('Content-Length');
  });

  it('keeps Upgrade and says Connection: upgrade for an upgrade request', () => {
    const headers = requestHeaders(['Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k'], 'h.example', true);
    expect(headers).toEqual(['Host', 'h.example', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k', 'Via', '1.1 egress-router', 'Connection', 'upgrade']);
    expect(serializeRequestHead('GET', '/ws', headers)).toBe(
      'GET /ws HTTP/1.1\r\nHost: h.example\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nVia: 1.1 egress-router\r\nConnection: upgrade\r\n\r\n',
    );
  });

  it('takes response fields as bytes, drops hop-by-hop ones, and adds Via', () => {
    const raw = ['Content-Type', 'text/plain', 'Connection', 'X-Hop', 'X-Hop', '1', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'a=\xe9'].map((f) => Buffer.from(f, 'latin1'));
    expect(responseHeaders(raw)).toEqual(['Content-Type', 'text/plain', 'Set-Cookie', 'a=\xe9', 'Via', '1.1 egress-router']);
  });
});
