// Clients of the DNS proxy benchmark, run in the client pod's namespace. Each prints one JSON line.
//
//   latency HOST PORT COUNT                 COUNT connections one after the other; per connection the
//                                           time from connect() to the first byte of the server's
//                                           reply: {"count","failed","p50","p99","max"} in ms
//   fetch HOST PORT BYTES                   one connection that asks the bulk server for BYTES bytes:
//                                           {"bytes","ms"} from connect() to the end of the stream
//   timeline HOST PORT EVERY FOR TIMEOUT    a new connection every EVERY ms for FOR ms, whatever the
//                                           earlier ones do; prints "started" at once, then
//                                           [{"at","ok","reply"|"error"}] with `at` in epoch ms
import net from 'node:net';

const [mode, host, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);

/** One connection: resolves with the time to the first byte and the whole reply, or an error. */
function exchange(timeoutMs, send) {
  return new Promise((resolve) => {
    const started = performance.now();
    let firstByte;
    let reply = '';
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => done({ ok: false, error: 'timeout' }), timeoutMs);
    const done = (result) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    if (send) socket.on('connect', () => socket.write(send));
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      firstByte ??= performance.now() - started;
      reply += chunk;
    });
    socket.on('end', () => done({ ok: true, firstByteMs: firstByte ?? performance.now() - started, reply: reply.trim() }));
    socket.on('error', (error) => done({ ok: false, error: error.code ?? error.message }));
  });
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

if (mode === 'latency') {
  const times = [];
  let failed = 0;
  for (let i = 0; i < Number(rest[0]); i++) {
    const result = await exchange(5000);
    if (result.ok) times.push(result.firstByteMs);
    else failed++;
  }
  times.sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ count: times.length, failed, p50: percentile(times, 50), p99: percentile(times, 99), max: times[times.length - 1] })}\n`);
} else if (mode === 'fetch') {
  const bytes = Number(rest[0]);
  const started = performance.now();
  let received = 0;
  const socket = net.connect({ host, port }, () => socket.write(`${bytes}\n`));
  socket.on('data', (chunk) => (received += chunk.length));
  socket.on('end', () => {
    process.stdout.write(`${JSON.stringify({ bytes: received, ms: performance.now() - started })}\n`);
    socket.destroy();
  });
  socket.on('error', (error) => process.stdout.write(`${JSON.stringify({ bytes: received, error: error.code ?? error.message })}\n`));
} else if (mode === 'timeline') {
  const [every, duration, timeoutMs] = rest.map(Number);
  const results = [];
  const pending = [];
  process.stdout.write('started\n');
  const end = Date.now() + duration;
  while (Date.now() < end) {
    const at = Date.now();
    pending.push(exchange(timeoutMs).then((r) => results.push({ at, ok: r.ok, ...(r.ok ? { reply: r.reply } : { error: r.error }) })));
    await new Promise((resolve) => setTimeout(resolve, every));
  }
  await Promise.all(pending);
  results.sort((a, b) => a.at - b.at);
  process.stdout.write(`${JSON.stringify(results)}\n`);
} else {
  process.stderr.write('usage: dns-proxy-client.mjs latency|fetch|timeline HOST PORT ...\n');
  process.exit(2);
}
