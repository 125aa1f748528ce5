/** The test topology itself: namespaces carry this run's id and are gone after destroy(). */
import { expect, it } from 'vitest';
import { describeIntegration } from '../support/integration.js';
import { NAMESPACE_PREFIX, Topology, listNamespaces } from '../support/topology.js';

describeIntegration('test namespaces', () => {
  it('are named after this run and removed by destroy, servers included', async () => {
    const runId = process.env.EGRESS_ROUTER_TEST_RUN;
    expect(runId).toMatch(/^[0-9a-f]{4}$/);
    const topology = await Topology.create();
    const names = Object.values(topology.ns);
    expect(names.every((n) => n.startsWith(`${NAMESPACE_PREFIX}${runId}`))).toBe(true);
    await topology.startServers(topology.ns.lan, ['tcp:203.0.113.25:80']);
    expect(await listNamespaces()).toEqual(expect.arrayContaining(names));
    await topology.destroy();
    const left = await listNamespaces();
    expect(names.filter((n) => left.includes(n))).toEqual([]);
  });
});
