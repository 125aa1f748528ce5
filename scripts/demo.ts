/**
 * The demo: builds a throwaway cluster in network namespaces, runs the router there with the
 * destination list from examples/, shows a few connections arriving at their destinations from
 * the reserved source address, and removes everything again. Needs root; touches nothing
 * outside the namespaces it creates.
 */
import { readFileSync } from 'node:fs';
import { ADDRESSES, ROOT, Topology, routerEnv } from '../test/support/topology.js';

const LIST = 'examples/destinations.txt';
const say = (text = '') => process.stdout.write(`${text}\n`);

if (process.getuid?.() !== 0) {
  say('The demo creates network namespaces and needs root.');
  process.exit(1);
}

const topology = await Topology.create({ style: 'calico' });
try {
  const [d1, d2, d3] = ADDRESSES.destinations;
  say('A throwaway topology in network namespaces:');
  say(`  client pod ${ADDRESSES.client}  ->  cluster network  ->  router pod eth0 ${ADDRESSES.pod} (Calico-style: a /32 and a link-local default)`);
  say(`  router pod macvlan0 = EGRESS_SOURCE ${ADDRESSES.sourceCidr}  ->  LAN gateway ${ADDRESSES.gateway}  ->  servers ${d1}, ${d2}, ${d3}`);
  await topology.startServers(topology.ns.lan, [`tcp:${d1}:80`, `tcp:${d2}:80`, `udp:${d2}:53`, `tcp:${d2}:53`, `tcp:${d3}:22`, `tcp:${d3}:443`]);
  say();
  say(`Destination list (${LIST}):`);
  for (const line of readFileSync(`${ROOT}/${LIST}`, 'utf8').split('\n')) if (line.trim() !== '') say(`  ${line}`);

  say();
  say('Running: egress-router with EGRESS_ROUTER_MODE=init in the router pod');
  const run = await topology.runRouter(routerEnv({ EGRESS_DESTINATION_FILE: `${ROOT}/${LIST}` }));
  for (const line of run.stdout.split('\n').filter((l) => l !== '')) {
    const entry = JSON.parse(line) as { msg: string; command?: string };
    say(`  ${entry.msg}${entry.command ? `: ${entry.command}` : ''}`);
  }
  if (run.exitCode !== 0) throw new Error(`the router failed (exit ${run.exitCode}): ${run.stderr}`);
  say(`  exit code 0 after ${Math.round(run.ms)} ms`);

  say();
  say('Connections from the client pod to the router pod, and what the servers saw:');
  const targets = [`tcp:${ADDRESSES.pod}:80`, `tcp:${ADDRESSES.pod}:8080`, `udp:${ADDRESSES.pod}:53`, `tcp:${ADDRESSES.pod}:53`, `tcp:${ADDRESSES.pod}:443`];
  let good = 0;
  for (const result of await topology.probe(targets)) {
    const [, port] = /:(\d+)$/.exec(result.target)!;
    const protocol = result.target.split(':')[0];
    if (result.ok) {
      const [seenFrom, reached] = result.reply!.split(' ');
      const fromSource = seenFrom === ADDRESSES.source;
      if (fromSource) good++;
      say(`  ${protocol} ${ADDRESSES.pod}:${port}  ->  reached ${reached}, which saw the connection come from ${seenFrom}${fromSource ? ' (EGRESS_SOURCE)' : ' (NOT the source address!)'}`);
    } else {
      say(`  ${protocol} ${ADDRESSES.pod}:${port}  ->  failed: ${result.error}`);
    }
  }
  say();
  say(good === targets.length ? `All ${good} connections left from ${ADDRESSES.source}.` : `Only ${good} of ${targets.length} connections worked.`);
  process.exitCode = good === targets.length ? 0 : 1;
} finally {
  await topology.destroy();
  say('Removed the demo namespaces.');
}
