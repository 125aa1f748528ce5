// A bulk TCP source for the DNS proxy benchmark: each connection sends one line with a byte
// count, and gets that many bytes back, then the end of the stream. Sent from one reused 1 MiB
// buffer with back-pressure, so the server costs next to nothing. Prints "ready" once it listens.
// Usage: node bulk-server.mjs ADDR:PORT ...
import net from 'node:net';

const CHUNK = Buffer.alloc(1 << 20, 0x61);

function serve(socket) {
  socket.on('error', () => {});
  let request = '';
  socket.on('data', function onData(chunk) {
    request += chunk.toString('latin1');
    if (!request.includes('\n')) return;
    socket.removeListener('data', onData);
    let left = Number(request.slice(0, request.indexOf('\n')));
    const pump = () => {
      while (left > 0) {
        const size = Math.min(left, CHUNK.length);
        left -= size;
        if (!socket.write(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size))) return socket.once('drain', pump);
      }
      socket.end();
    };
    pump();
  });
}

await Promise.all(
  process.argv.slice(2).map((spec) => {
    const colon = spec.lastIndexOf(':');
    return new Promise((resolve, reject) => {
      const server = net.createServer(serve);
      server.on('error', reject);
      server.listen({ host: spec.slice(0, colon), port: Number(spec.slice(colon + 1)) }, resolve);
    });
  }),
);
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
