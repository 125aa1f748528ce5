// The reference for the HTTP proxy benchmark's tunnel measurement: the least a CONNECT relay on
// Node's public socket API (net) does. It reads the request line of the first chunk, connects to
// the address in it, answers 200, then moves bytes both ways until both sides have ended. No
// rules, no timeouts, no counters, no logs: not a proxy to run, a floor to compare against.
//   node connect-relay.mjs HOST PORT
import net from 'node:net';

const [host, port] = process.argv.slice(2);
const ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n');

function forward(from, to) {
  from.on('data', (chunk) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
  client.on('error', () => client.destroy());
  client.once('data', (chunk) => {
    client.pause();
    const head = chunk.latin1Slice(0, chunk.length);
    const authority = head.slice(0, head.indexOf('\r\n')).split(' ')[1] ?? '';
    const colon = authority.lastIndexOf(':');
    const upstream = net.connect({ host: authority.slice(0, colon), port: Number(authority.slice(colon + 1)), noDelay: true });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', close);
    upstream.on('connect', () => {
      client.write(ESTABLISHED);
      const rest = chunk.subarray(head.indexOf('\r\n\r\n') + 4);
      if (rest.length > 0) upstream.write(rest);
      forward(client, upstream);
      forward(upstream, client);
      client.on('close', close);
      upstream.on('close', close);
      client.resume();
    });
  });
});
server.listen({ host, port: Number(port), backlog: 4096 }, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
