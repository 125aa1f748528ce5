// The benchmark's load generator: short TCP connections (connect, read the echo reply, close),
// a fixed number in flight at a time. It stays up and takes one measurement per line on stdin,
// so that rounds can be interleaved without paying Node's start-up each time:
//
//   {"host":"10.128.0.5","port":1024,"ms":1000,"max":20000,"inFlight":8,"expect":"192.168.12.99"}
//
// and answers each with one line {"ok":N,"failed":N,"ms":N,"errors":{...}}. A connection counts
// as ok only if the reply contains `expect` (the source address the server saw), so a connection
// that did not go through the router's NAT is no success. Every measurement is bounded by `ms`
// and by `max` connections; a connection that hangs is abandoned after `timeoutMs`.
// Usage: node loadgen.mjs   (prints "ready" once it reads commands)
// The client closes each connection with a reset once the reply is in, see below.
import net from 'node:net';
import { createInterface } from 'node:readline';

function measure({ host, port, ms, max, inFlight, expect, timeoutMs = 2000 }) {
  return new Promise((resolve) => {
    const started = performance.now();
    const deadline = started + ms;
    const errors = {};
    let launched = 0;
    let ok = 0;
    let failed = 0;
    let active = 0;

    const finish = () => {
      if (active > 0) return;
      resolve({ ok, failed, ms: performance.now() - started, errors });
    };
    const launch = () => {
      launched++;
      active++;
      let reply = '';
      let settled = false;
      const socket = net.connect({ host, port });
      const done = (success, code) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (success) ok++;
        else {
          failed++;
          errors[code] = (errors[code] ?? 0) + 1;
        }
        active--;
        if (launched < max && performance.now() < deadline) launch();
        else finish();
      };
      const timer = setTimeout(() => done(false, 'timeout'), timeoutMs);
      socket.setEncoding('latin1');
      socket.on('data', (chunk) => (reply += chunk));
      socket.on('end', () => {
        // The server has answered and closed its side: close ours with a reset, so that neither
        // end keeps the connection in TIME_WAIT. Over a run, tens of thousands of closed
        // connections would otherwise make port reuse collide with them.
        socket.resetAndDestroy();
        done(reply.includes(expect), 'unexpected reply');
      });
      socket.on('error', (error) => done(false, error.code ?? error.message));
    };
    for (let i = 0; i < Math.min(inFlight, max); i++) launch();
  });
}

const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
for await (const line of lines) {
  if (line.trim() === '') continue;
  const result = await measure(JSON.parse(line));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
