// CONNECT tunnels per second through a proxy, for the HTTP proxy benchmark. Keeps IN_FLIGHT
// tunnels going for MS milliseconds: each connects to the proxy, asks CONNECT TARGET, waits for
// the 200, sends a line to the echo server behind it, waits for it to come back, and closes.
// Prints {"ok":N,"failed":N,"ms":N,"errors":{...}}.
//   node connect-loadgen.mjs PROXY_HOST PROXY_PORT TARGET MS IN_FLIGHT
import net from 'node:net';

const [host, port, target, msText, inFlightText] = process.argv.slice(2);
const ms = Number(msText);
const inFlight = Number(inFlightText);
const request = `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`;
const PING = 'ping\n';
let ok = 0;
let failed = 0;
const errors = {};
const started = performance.now();
const deadline = started + ms;

function tunnel() {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port), noDelay: true });
    let data = '';
    let open = false;
    const finish = (error) => {
      socket.destroy();
      if (error) {
        failed++;
        errors[error] = (errors[error] ?? 0) + 1;
      } else ok++;
      resolve();
    };
    socket.setTimeout(5000, () => finish('timeout'));
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (!open) {
        const end = data.indexOf('\r\n\r\n');
        if (end === -1) return;
        if (!data.startsWith('HTTP/1.1 200')) return finish(data.split('\r\n')[0]);
        open = true;
        data = data.slice(end + 4);
        socket.write(PING);
      }
      if (data === PING) finish();
    });
    socket.on('error', (error) => finish(error.code ?? error.message));
  });
}

async function worker() {
  while (performance.now() < deadline) await tunnel();
}
await Promise.all(Array.from({ length: inFlight }, worker));
process.stdout.write(`${JSON.stringify({ ok, failed, ms: performance.now() - started, errors })}\n`);
