/**
 * The HTTP proxy end to end: the legacy two-container pod (the router configures the network,
 * then the proxy container runs unprivileged with only EGRESS_HTTP_PROXY_* variables), a real
 * DNS server, real destination servers on the LAN, and clients in the client pod and on the LAN.
 * One pod serves every test; tests that stop or limit a proxy start their own on another port.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIntegration } from '../support/integration.js';
import { ProxyPod, type StartedProxy } from '../support/http-proxy-pod.js';
import { ADDRESSES } from '../support/topology.js';

const [D1, D2, D3] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;
const PROXY = `${POD}:8080`;

const RULES = [
  '# the names under denied.test are refused before any lookup',
  '!*.denied.test',
  'allowed.test            # by name',
  `!${D1}                  # no connection to this address, whatever name leads there`,
  `${D2}/31                # ${D2} and ${D3}, literal or resolved`,
].join('\n');
const RECORDS = [
  { name: 'allowed.test', addresses: [D1], ttl: 60 },
  { name: 'www.denied.test', addresses: [D1], ttl: 60 },
  { name: 'cidr.test', addresses: [D2], ttl: 60 },
  { name: 'other.test', addresses: [D1], ttl: 60 },
  { name: 'mixed.test', addresses: [D1, D2], ttl: 60 },
  { name: 'tls.test', addresses: [D3], ttl: 60 },
];
const SERVERS = [`http:${D1}:80`, `http:${D2}:80`, `echo:${D3}:443`];
/** Short read and header timeouts, so that 504 and the slow clients take seconds, not minutes. */
const TIMEOUTS = 'header=2s read=1500ms shutdown=5s';

const header = (headers: string[], name: string): string | undefined => {
  const at = headers.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === name.toLowerCase());
  return at === -1 ? undefined : headers[at + 1];
};

describeIntegration('the HTTP proxy container', () => {
  let pod: ProxyPod;
  let proxy: StartedProxy;

  beforeAll(async () => {
    pod = await ProxyPod.create(RECORDS, SERVERS);
    proxy = await pod.startProxy({ EGRESS_HTTP_PROXY_DESTINATION: RULES, EGRESS_HTTP_PROXY_TIMEOUTS: TIMEOUTS, EGRESS_HTTP_PROXY_ACCESS_LOG: '1' });
  });
  afterAll(async () => pod?.destroy());

  it('listens only on the cluster interface, and runs as a non-root user without capabilities', async () => {
    const ready = JSON.parse(proxy.output().split('\n').find((l) => l.includes('http proxy ready'))!);
    expect(ready.listening).toEqual([PROXY]);
    const status = await pod.topology.exec(pod.topology.ns.router, ['sh', '-c', `grep -E '^(Uid|CapEff)' /proc/${proxy.child.pid}/status`]);
    expect(status).toMatch(/^Uid:\s+65534\s/m);
    expect(status).toMatch(/^CapEff:\s+0000000000000000$/m);
  });

  it('forwards an allowed request from EGRESS_SOURCE, with the URL\'s host, without hop-by-hop fields, kept alive on both sides', async () => {
    const hop = { Connection: 'keep-alive, X-Hop-Secret', 'X-Hop-Secret': 'for the proxy only', 'Proxy-Authorization': 'Basic c2VjcmV0', 'X-End': 'kept' };
    const [first, second] = await pod.client(PROXY, [
      { get: 'http://allowed.test/first?q=1', headers: hop },
      { get: 'http://ALLOWED.test./second' },
    ]);
    expect(first).toMatchObject({ status: 200 });
    const seen = JSON.parse(first!.body);
    expect(seen).toMatchObject({ peer: ADDRESSES.source, local: `${D1}:80`, method: 'GET', url: '/first?q=1' });
    expect(header(seen.headers, 'host')).toBe('allowed.test');
    expect(header(seen.headers, 'x-end')).toBe('kept');
    expect(header(seen.headers, 'via')).toBe('1.1 egress-router');
    for (const name of ['x-hop-secret', 'proxy-authorization', 'keep-alive']) expect(header(seen.headers, name)).toBeUndefined();
    // The server's own connection-scoped field (X-Hop, named in its Connection) stops at the proxy.
    expect(header(first!.headers, 'x-hop')).toBeUndefined();
    expect(header(first!.headers, 'via')).toBe('1.1 egress-router');
    // Keep-alive: one client connection, and one connection to the destination, for both requests.
    const again = JSON.parse(second!.body);
    expect(second).toMatchObject({ status: 200, clientPort: first!.clientPort });
    expect(again.peerPort).toBe(seen.peerPort);
    expect(header(again.headers, 'host')).toBe('ALLOWED.test.');
  });

  it('streams request bodies, with a length or chunked', async () => {
    const [sized, chunked] = await pod.client(PROXY, [
      { get: 'http://allowed.test/post', method: 'POST', body: 'x'.repeat(100_000) },
      { get: 'http://allowed.test/chunked', method: 'PUT', headers: { 'Transfer-Encoding': 'chunked' }, chunks: ['a'.repeat(1000), 'b'.repeat(2000)] },
    ]);
    expect(sized).toMatchObject({ status: 200 });
    expect(JSON.parse(sized!.body)).toMatchObject({ method: 'POST', bodyBytes: 100_000 });
    expect(header(JSON.parse(sized!.body).headers, 'content-length')).toBe('100000');
    expect(chunked).toMatchObject({ status: 200 });
    expect(JSON.parse(chunked!.body)).toMatchObject({ method: 'PUT', bodyBytes: 3000 });
    // Re-framed by the proxy: chunked, or with the length once the whole body is in.
    const framing = JSON.parse(chunked!.body).headers as string[];
    expect(header(framing, 'transfer-encoding') === 'chunked' || header(framing, 'content-length') === '3000').toBe(true);
  });

  it('denies a name with 403 before any lookup: neither the DNS server nor a destination sees it', async () => {
    const [denied] = await pod.client(PROXY, [{ get: 'http://www.denied.test/never' }]);
    expect(denied).toMatchObject({ status: 403, body: 'egress-router: www.denied.test is denied by rule line 2\n' });
    expect(pod.dns.queries().filter((q) => q.includes('denied.test'))).toEqual([]);
    expect(pod.hits().filter((h) => h.includes('/never'))).toEqual([]);
  });

  it('matches addresses and networks against a name\'s resolved addresses, and connects only to an allowed one', async () => {
    const [cidr, other, mixed, literalAllowed, literalDenied] = await pod.client(PROXY, [
      { get: 'http://cidr.test/cidr' },
      { get: 'http://other.test/other' },
      { get: 'http://mixed.test/mixed' },
      { get: `http://${D2}/literal-allowed` },
      { get: `http://${D1}/literal-denied` },
    ]);
    expect(cidr).toMatchObject({ status: 200 });
    expect(JSON.parse(cidr!.body).local).toBe(`${D2}:80`);
    expect(other).toMatchObject({ status: 403, body: `egress-router: other.test (${D1}) is denied by rule line 4\n` });
    // mixed.test has both addresses; the denied one comes first and is never connected to.
    expect(mixed).toMatchObject({ status: 200 });
    expect(JSON.parse(mixed!.body).local).toBe(`${D2}:80`);
    expect(literalAllowed).toMatchObject({ status: 200 });
    expect(literalDenied).toMatchObject({ status: 403, body: `egress-router: ${D1} is denied by rule line 4\n` });
    const hits = pod.hits();
    expect(hits.filter((h) => /\/(other|literal-denied)/.test(h))).toEqual([]);
    expect(hits.filter((h) => h.includes('/mixed'))).toEqual([`http:${D2}:80 ${ADDRESSES.source} GET /mixed`]);
  });

  it('tunnels CONNECT to any port of an allowed host, refuses a denied one, and passes Upgrade through', async () => {
    const [tunnel, deniedName, deniedAddress, upgrade] = await pod.client(PROXY, [
      { connect: 'tls.test:443', send: 'client hello' },
      { connect: 'www.denied.test:443', send: 'x' },
      { connect: `${D1}:443`, send: 'x' },
      { upgrade: 'http://cidr.test/ws', send: 'ping' },
    ]);
    expect(tunnel!.response).toBe('HTTP/1.1 200 Connection established\r\n\r\nclient hello');
    expect(deniedName!.response).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(deniedAddress!.response).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(upgrade!.response).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n(.*\r\n)*\r\nping$/);
    const hits = pod.hits();
    expect(hits).toContain(`echo:${D3}:443 ${ADDRESSES.source} CONNECTION`);
    expect(hits).toContain(`http:${D2}:80 ${ADDRESSES.source} UPGRADE /ws test`);
    expect(hits.filter((h) => h.startsWith(`echo:${D3}:443`))).toHaveLength(1);
  });

  it('closes a tunnel that stays silent both ways for the read timeout, and keeps one that talks', async () => {
    const [[silent], [talking]] = await Promise.all([
      pod.client(PROXY, [{ quietTunnel: 'tls.test:443', for: 4000 }]),
      pod.client(PROXY, [{ quietTunnel: 'tls.test:443', send: 'x', every: 400, for: 3500 }]),
    ]);
    // read=1500ms: closed by the proxy after 1.5 s of silence, not before, and not much later.
    expect(silent).toMatchObject({ closed: true, echoed: 0 });
    expect(silent!.closedAfterMs).toBeGreaterThanOrEqual(1450);
    expect(silent!.closedAfterMs).toBeLessThan(3000);
    // A byte each way every 400 ms for 3.5 s, more than twice the read timeout: still open.
    expect(talking).toMatchObject({ closed: false });
    expect(talking!.echoed).toBeGreaterThanOrEqual(7);
  });

  it('is closed from the LAN: no listener on the source address, and no answer from the pod address', async () => {
    // A LAN host that routes the cluster network through the egress address, as a hostile one would.
    // (The proxy listens on eth0's address; the kernel drops the SYN that comes in on macvlan0
    // here. Squid, listening on every address, took both connections.)
    await pod.topology.exec(pod.topology.ns.lan, ['ip', 'route', 'add', '10.128.0.0/24', 'via', ADDRESSES.source]);
    const [source, podAddress] = await pod.client(PROXY, [{ tcp: `${ADDRESSES.source}:8080` }, { tcp: PROXY }], pod.topology.ns.lan);
    expect(source).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    expect(podAddress).toMatchObject({ ok: false });
  });

  it('answers a normal request at once while 500 clients send their headers one byte a second, and drops them after the header timeout', async () => {
    const [opened, prompt, , report] = await pod.client(PROXY, [{ slow: 500 }, { get: 'http://allowed.test/prompt' }, { sleep: 3500 }, { slowReport: true }]);
    expect(opened).toMatchObject({ opened: 500 });
    expect(prompt).toMatchObject({ status: 200 });
    // Generous: the target is "at once"; on a loaded 2-core machine this takes tens of milliseconds.
    expect(prompt!.ms).toBeLessThan(1000);
    expect(report).toMatchObject({ opened: 500, closedByProxy: 500 });
  });

  it('answers malformed (400), origin-form (400) and oversized (431) requests, and stays up', async () => {
    const results = await pod.client(PROXY, [
      { raw: 'GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n' },
      { raw: 'this is not HTTP\r\n\r\n' },
      { raw: 'GET https://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n' },
      { raw: 'GET http://user@allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n' },
      { raw: `GET http://allowed.test/big HTTP/1.1\r\nHost: allowed.test\r\nX-Big: ${'b'.repeat(70 * 1024)}\r\n\r\n` },
      { get: 'http://allowed.test/still-up' },
    ]);
    expect(results.slice(0, 5).map((r) => r.response.split('\r\n')[0])).toEqual([
      'HTTP/1.1 400 Bad Request',
      'HTTP/1.1 400 Bad Request',
      'HTTP/1.1 400 Bad Request',
      'HTTP/1.1 400 Bad Request',
      'HTTP/1.1 431 Request Header Fields Too Large',
    ]);
    expect(results[0]!.response).toContain('not a proxy request (origin form)');
    expect(results[5]).toMatchObject({ status: 200 });
  });

  it('answers 502 when a destination refuses or a name does not resolve, and 504 when it does not answer in time', async () => {
    const [refused, unknown, hang] = await pod.client(PROXY, [
      { get: `http://${D2}:81/refused` },
      { get: 'http://unknown.test/' },
      { get: `http://${D2}/hang` },
    ]);
    expect(refused).toMatchObject({ status: 502, body: `egress-router: ${D2}:81 (${D2}): connection refused\n` });
    expect(unknown).toMatchObject({ status: 502, body: 'egress-router: cannot resolve unknown.test: no such name\n' });
    expect(hang).toMatchObject({ status: 504, body: `egress-router: ${D2}:80 (${D2}): no response within 1500 ms\n` });
  });

  it('logs one access-log line per request when EGRESS_HTTP_PROXY_ACCESS_LOG is set', async () => {
    await pod.client(PROXY, [{ get: 'http://allowed.test/logged' }]);
    const lines = proxy.output().split('\n').filter((l) => l.includes('/logged'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'request', kind: 'http', method: 'GET', target: 'allowed.test:80/logged', status: 200, rule: 3, upstream: D1 });
  });

  it('closes connections beyond EGRESS_HTTP_PROXY_MAX_CONNECTIONS at once', async () => {
    const limited = await pod.startProxy({ EGRESS_HTTP_PROXY_DESTINATION: RULES, EGRESS_HTTP_PROXY_PORT: '8082', EGRESS_HTTP_PROXY_MAX_CONNECTIONS: '3' });
    const [, beyond] = await pod.client(`${POD}:8082`, [{ slow: 3 }, { get: 'http://allowed.test/beyond' }]);
    expect(beyond!.error).toMatch(/ECONNRESET|socket hang up/);
    limited.child.kill('SIGTERM');
    expect((await limited.child).exitCode).toBe(0);
  });

  it('on SIGTERM stops accepting, finishes the request in flight, logs nothing per request, and exits 0', async () => {
    const second = await pod.startProxy({ EGRESS_HTTP_PROXY_DESTINATION: RULES, EGRESS_HTTP_PROXY_PORT: '8081', EGRESS_HTTP_PROXY_TIMEOUTS: TIMEOUTS });
    const inFlight = pod.clientInBackground(`${POD}:8081`, [{ get: `http://${D2}/delay?ms=1200` }]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    second.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const [afterStop] = await pod.client(`${POD}:8081`, [{ tcp: `${POD}:8081` }]);
    expect(afterStop).toMatchObject({ ok: false, error: 'ECONNREFUSED' });
    const [answered] = JSON.parse(String((await inFlight).stdout));
    expect(answered).toMatchObject({ status: 200 });
    const exited = await second.child;
    expect(exited.exitCode).toBe(0);
    expect(second.output()).toContain('http proxy stopped');
    expect(second.output()).not.toContain('"msg":"request"');
  });
});
