// The reference for the HTTP proxy benchmark: the least a proxy on Node's public API does, to
// tell what a request or a tunnel costs in Node itself from what egress-router adds. Node's HTTP
// server; absolute-form requests go to their origin through undici over kept-alive connections
// (hop-by-hop fields dropped, the response streamed back); CONNECT connects to the address asked
// for, answers 200 and moves bytes both ways until both sides have ended. No rules, limits,
// timeouts, counters or logs: not a proxy to run, a floor to compare against.
//   node reference-proxy.mjs HOST PORT
import http from 'node:http';
import net from 'node:net';
import { Agent } from 'undici';

const [host, port] = process.argv.slice(2);
const agent = new Agent({ keepAliveTimeout: 60_000, pipelining: 1 });
const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
const ESTABLISHED = Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n');

function endToEnd(raw, text) {
  const fields = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = text(raw[i]);
    if (!HOP_BY_HOP.has(name.toLowerCase())) fields.push(name, text(raw[i + 1]));
  }
  return fields;
}

const server = http.createServer({ noDelay: true }, (req, res) => {
  const url = new URL(req.url ?? '');
  req.resume();
  agent.dispatch(
    { origin: url.origin, path: `${url.pathname}${url.search}`, method: req.method, headers: endToEnd(req.rawHeaders, String) },
    {
      onConnect() {},
      onError: () => res.destroy(),
      onHeaders(status, raw, resume, statusText) {
        res.writeHead(status, statusText, endToEnd(raw, (b) => b.toString('latin1')));
        res.on('drain', resume);
        return true;
      },
      onData: (chunk) => res.write(chunk),
      onComplete: () => res.end(),
    },
  );
});

function forward(from, to) {
  from.on('data', (chunk) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

server.on('connect', (req, client, head) => {
  client.on('error', () => client.destroy());
  const authority = req.url ?? '';
  const colon = authority.lastIndexOf(':');
  const upstream = net.connect({ host: authority.slice(0, colon), port: Number(authority.slice(colon + 1)), noDelay: true });
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  upstream.on('error', close);
  upstream.on('connect', () => {
    client.write(ESTABLISHED);
    if (head.length > 0) upstream.write(head);
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', close);
    upstream.on('close', close);
  });
});

server.listen({ host, port: Number(port), backlog: 4096 }, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
