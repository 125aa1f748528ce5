/** Choosing a destination address for each relayed connection, and reaching the first that accepts. */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { DEFAULT_UPSTREAM_OPTIONS, type UpstreamResult, candidateOrder, connectUpstream } from '../../../src/dns-proxy/upstream.js';

const v4 = (text: string) => ({ family: 4 as const, text });
const [A, B, C] = [v4('192.0.2.1'), v4('192.0.2.2'), v4('192.0.2.3')];
const texts = (list: { text: string }[]) => list.map((a) => a.text);

describe('candidate order', () => {
  it('takes the addresses in turn, the others following as fallbacks', () => {
    const all = () => true;
    expect([0, 1, 2, 3].map((turn) => texts(candidateOrder([A, B, C], all, turn)))).toEqual([
      ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
      ['192.0.2.2', '192.0.2.3', '192.0.2.1'],
      ['192.0.2.3', '192.0.2.1', '192.0.2.2'],
      ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
    ]);
  });

  it('leaves out addresses the health checks took out', () => {
    const up = (a: { text: string }) => a !== B;
    expect([0, 1, 2].map((turn) => texts(candidateOrder([A, B, C], up, turn))[0])).toEqual(['192.0.2.1', '192.0.2.3', '192.0.2.1']);
    expect(texts(candidateOrder([A, B, C], up, 0))).toEqual(['192.0.2.1', '192.0.2.3']);
  });

  it('tries every address when all are out, rather than refusing', () => {
    expect(texts(candidateOrder([A, B], () => false, 1))).toEqual(['192.0.2.2', '192.0.2.1']);
  });

  it('has nothing to try for a name without addresses', () => {
    expect(candidateOrder([], () => true, 5)).toEqual([]);
  });
});

/** A listener on loopback and a port that refuses, to race connections between them. */
async function loopback(): Promise<{ port: number; closedPort: number; close: () => Promise<void> }> {
  const server = net.createServer((socket) => socket.on('error', () => undefined).end('hello'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.2', resolve));
  const closedPort = (closed.address() as net.AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  return { port: (server.address() as net.AddressInfo).port, closedPort, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const connect = (candidates: { family: 4; text: string }[], port: number, options = DEFAULT_UPSTREAM_OPTIONS) =>
  new Promise<UpstreamResult>((resolve) => connectUpstream(candidates, port, options, resolve));

describe('reaching a destination (loopback)', () => {
  it('moves on at once from an address that refuses', async () => {
    const { port, close } = await loopback();
    try {
      // 127.0.0.2 has nothing on the port; 127.0.0.1 listens. No stagger wait: the refusal is immediate.
      const started = performance.now();
      const result = await connect([v4('127.0.0.2'), v4('127.0.0.1')], port);
      expect(performance.now() - started).toBeLessThan(DEFAULT_UPSTREAM_OPTIONS.staggerMs);
      expect(result.ok && result.address.text).toBe('127.0.0.1');
      if (result.ok) result.socket.destroy();
    } finally {
      await close();
    }
  });

  it('fails with every address and its error when none accepts', async () => {
    const { closedPort, close } = await loopback();
    await close();
    const result = await connect([v4('127.0.0.2'), v4('127.0.0.3')], closedPort);
    expect(result).toEqual({ ok: false, reason: '127.0.0.2: ECONNREFUSED, 127.0.0.3: ECONNREFUSED' });
  });

  it('tries at most maxAttempts addresses', async () => {
    const { closedPort, close } = await loopback();
    await close();
    const result = await connect([v4('127.0.0.2'), v4('127.0.0.3'), v4('127.0.0.4')], closedPort, { ...DEFAULT_UPSTREAM_OPTIONS, maxAttempts: 2 });
    expect(result.ok ? '' : result.reason).toBe('127.0.0.2: ECONNREFUSED, 127.0.0.3: ECONNREFUSED');
  });

  it('calls back nothing once cancelled', async () => {
    const { port, close } = await loopback();
    try {
      let called = false;
      const cancel = connectUpstream([v4('127.0.0.1')], port, DEFAULT_UPSTREAM_OPTIONS, () => (called = true));
      cancel();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(called).toBe(false);
    } finally {
      await close();
    }
  });
});
