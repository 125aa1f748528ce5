/**
 * The real health check: a TCP connection from the pod's network namespace, closed with a reset
 * as soon as it is established, so that neither end keeps it in TIME_WAIT (haproxy's checks do
 * the same). Only the handshake is checked; no byte is sent.
 */
import net from 'node:net';
import type { CheckResult, ConnectFunction } from './checker.js';

export const tcpConnectCheck: ConnectFunction = (target, timeoutMs) =>
  new Promise<CheckResult>((resolve) => {
    const socket = net.connect({ host: target.address.text, port: target.port });
    const done = (result: CheckResult) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      // A reset only once connected: resetAndDestroy() on a connecting socket would wait for it.
      if (result.ok) socket.resetAndDestroy();
      else socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, reason: `no connection within ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, reason: error.code ?? error.message }));
  });
