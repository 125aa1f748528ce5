// The destination for the HTTP proxy benchmark: cheap enough that the proxies, not the server,
// set the pace. Plain JavaScript on raw sockets, no HTTP parser: every request head (up to the
// blank line) gets a canned 200 with a 64-byte body, keep-alive unless the request said close;
// GET /big/N sends N MB. A second port echoes bytes (the tunnel destination).
//   node http-upstream.mjs HTTP_ADDR:PORT ECHO_ADDR:PORT
import net from 'node:net';

const [httpSpec, echoSpec] = process.argv.slice(2);
const split = (spec) => {
  const colon = spec.lastIndexOf(':');
  return { host: spec.slice(0, colon), port: Number(spec.slice(colon + 1)) };
};

const BODY = 'x'.repeat(63) + '\n';
const OK = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`);
const OK_CLOSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`);
const CHUNK = Buffer.alloc(256 * 1024, 120);

function sendBig(socket, megabytes) {
  const size = megabytes * 1024 * 1024;
  socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`);
  let left = size;
  const pump = () => {
    while (left > 0) {
      const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= piece.length;
      if (!socket.write(piece)) return socket.once('drain', pump);
    }
  };
  pump();
}

const httpServer = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  let pending = '';
  socket.on('data', (chunk) => {
    pending += chunk.latin1Slice ? chunk.latin1Slice(0, chunk.length) : chunk.toString('latin1');
    for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
      const head = pending.slice(0, end);
      pending = pending.slice(end + 4);
      const big = /^GET \/big\/(\d+) /.exec(head);
      if (big) sendBig(socket, Number(big[1]));
      else if (/\r\nconnection: *close/i.test(head)) socket.end(OK_CLOSE);
      else socket.write(OK);
    }
  });
});
const echoServer = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});

const listen = (server, spec) => new Promise((resolve, reject) => {
  server.on('error', reject);
  server.listen({ ...split(spec), backlog: 4096 }, resolve);
});
Promise.all([listen(httpServer, httpSpec), listen(echoServer, echoSpec)]).then(
  () => process.stdout.write('ready\n'),
  (error) => {
    process.stderr.write(`http-upstream: ${error.message}\n`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => process.exit(0));
