/** Planning: from configuration and observed state to the ordered steps a run takes. */
import { describe, expect, it } from 'vitest';
import type { Observed } from '../../src/plan/observed.js';
import type { Plan } from '../../src/plan/plan.js';
import { config, freshPod, plan, problems } from '../support/pod-state.js';
import { renderDryRun } from '../../src/system/apply.js';

/** The same pod after a successful run: what a restarted container finds. */
function configuredPod(): Observed {
  return freshPod({
    egress: { name: 'macvlan0', kind: 'macvlan', up: true, addresses: [{ family: 4, text: '192.168.12.99', prefix: 24, scope: 'global' }] },
    mainRoutes: [
      { dst: 'default', gateway: '192.168.12.1', dev: 'macvlan0', onlink: false },
      { dst: '10.128.0.0/23', dev: 'eth0', scope: 'link', prefsrc: '10.128.0.5', onlink: false },
      { dst: '192.168.12.0/24', dev: 'macvlan0', scope: 'link', prefsrc: '192.168.12.99', onlink: false },
      { dst: '192.168.12.1', dev: 'macvlan0', scope: 'link', onlink: false },
    ],
    replyRoutes: [
      { dst: 'default', gateway: '10.128.0.1', dev: 'eth0', onlink: false },
      { dst: '10.128.0.0/23', dev: 'eth0', scope: 'link', prefsrc: '10.128.0.5', onlink: false },
    ],
    rules: [
      { priority: 0, src: 'all', table: 'local' },
      { priority: 4552, src: 'all', iif: 'macvlan0', table: '4552' },
      { priority: 4552, src: '10.128.0.5', table: '4552' },
      { priority: 32766, src: 'all', table: 'main' },
    ],
    forwarding: { value: '1', writable: true },
  });
}

const commands = (p: Plan) => p.steps.map((s) => (s.kind === 'sysctl' ? `sysctl ${s.key}=${s.value}` : s.argv.join(' ')));

describe('plan for a fresh pod', () => {
  it('loads the firewall first, then configures the network in the legacy order, then announces', () => {
    const p = plan(config(), freshPod());
    expect(commands(p)).toEqual([
      'nft -f -',
      'ip -4 addr replace 192.168.12.99/24 dev macvlan0',
      'ip link set macvlan0 up',
      'ip -4 route replace default via 10.128.0.1 dev eth0 table 4552',
      'ip -4 route replace 10.128.0.0/23 dev eth0 scope link src 10.128.0.5 table 4552',
      'ip -4 rule add priority 4552 iif macvlan0 lookup 4552',
      'ip -4 rule add priority 4552 from 10.128.0.5 lookup 4552',
      'ip -4 route replace 192.168.12.1 dev macvlan0',
      'ip -4 route replace default via 192.168.12.1 dev macvlan0',
      'sysctl net.ipv4.ip_forward=1',
    ]);
    expect(p.announce).toEqual([
      ['arping', '-A', '-c', '1', '-I', 'macvlan0', '192.168.12.99'],
      ['arping', '-U', '-c', '1', '-I', 'macvlan0', '192.168.12.99'],
    ]);
  });

  it('keeps a Calico-style link-local default for replies, with its onlink flag', () => {
    const calico = freshPod({
      cluster: { name: 'eth0', kind: 'veth', up: true, addresses: [{ family: 4, text: '10.128.0.5', prefix: 32, scope: 'global' }] },
      mainRoutes: [
        { dst: 'default', gateway: '169.254.1.1', dev: 'eth0', onlink: true },
        { dst: '169.254.1.1', dev: 'eth0', scope: 'link', onlink: false },
      ],
    });
    const p = commands(plan(config(), calico));
    expect(p).toContain('ip -4 route replace default via 169.254.1.1 dev eth0 onlink table 4552');
    expect(p).toContain('ip -4 route replace 169.254.1.1 dev eth0 scope link table 4552');
  });

  it('skips forwarding when it is already on, and never touches it in http-proxy mode', () => {
    expect(commands(plan(config(), freshPod({ forwarding: { value: '1', writable: false } })))).not.toContain('sysctl net.ipv4.ip_forward=1');
    const proxy = plan(config({ EGRESS_ROUTER_MODE: 'http-proxy' }), freshPod({ forwarding: { value: '0', writable: false } }));
    expect(commands(proxy).some((c) => c.startsWith('sysctl'))).toBe(false);
  });

  it('in http-proxy mode routes only the pod’s own replies back through eth0, not forwarded LAN traffic', () => {
    const proxy = commands(plan(config({ EGRESS_ROUTER_MODE: 'http-proxy' }), freshPod()));
    expect(proxy).toContain('ip -4 rule add priority 4552 from 10.128.0.5 lookup 4552');
    expect(proxy.some((c) => c.includes('iif macvlan0'))).toBe(false);
  });

  it('in http-proxy mode loads a table without redirects, for its input filter: the LAN never reaches the proxy', () => {
    const proxy = plan(config({ EGRESS_ROUTER_MODE: 'http-proxy' }), freshPod());
    const firewall = proxy.steps[0]!;
    expect(firewall.kind === 'firewall' && firewall.input).toMatch(/chain input \{[^}]*iifname "macvlan0" meta l4proto tcp reject with tcp reset/);
    expect(firewall.kind === 'firewall' && firewall.input).not.toMatch(/elements = \{/);
  });

  it('in dns-proxy mode prepares the kernel path: an empty redirect table, reply routing for forwarded traffic, forwarding on', () => {
    const proxy = commands(plan(config({ EGRESS_ROUTER_MODE: 'dns-proxy' }), freshPod()));
    expect(proxy[0]).toBe('nft -f -');
    expect(proxy).toContain('ip -4 rule add priority 4552 iif macvlan0 lookup 4552');
    expect(proxy).toContain('sysctl net.ipv4.ip_forward=1');
  });

  it('removes a stale source address left by an earlier configuration', () => {
    const old = freshPod({ egress: { name: 'macvlan0', kind: 'macvlan', up: true, addresses: [{ family: 4, text: '192.168.12.50', prefix: 24, scope: 'global' }] } });
    expect(commands(plan(config(), old)).slice(1, 3)).toEqual([
      'ip -4 addr del 192.168.12.50/24 dev macvlan0',
      'ip -4 addr replace 192.168.12.99/24 dev macvlan0',
    ]);
  });

  it('puts the gateway and default routes back after removing a stale source, which flushes them', () => {
    const moved = configuredPod();
    moved.egress = { ...moved.egress!, addresses: [{ family: 4, text: '192.168.12.50', prefix: 24, scope: 'global' }] };
    expect(commands(plan(config(), moved)).filter((c) => c.includes('macvlan0'))).toEqual([
      'ip -4 addr del 192.168.12.50/24 dev macvlan0',
      'ip -4 addr replace 192.168.12.99/24 dev macvlan0',
      'ip -4 route replace 192.168.12.1 dev macvlan0',
      'ip -4 route replace default via 192.168.12.1 dev macvlan0',
    ]);
  });

  it('removes other default routes that would compete with the new one', () => {
    const two = freshPod({
      mainRoutes: [
        { dst: 'default', gateway: '10.128.0.1', dev: 'eth0', onlink: false },
        { dst: 'default', gateway: '10.128.0.2', dev: 'eth0', metric: 100, onlink: false },
      ],
    });
    expect(commands(plan(config(), two))).toContain('ip -4 route del default via 10.128.0.2 dev eth0 metric 100');
  });
});

describe('plan for an IPv6 pod', () => {
  const v6 = () =>
    config({ EGRESS_SOURCE: '2001:db8:12::99/64', EGRESS_GATEWAY: '2001:db8:12::1', EGRESS_DESTINATION: '80 tcp 2001:db8:99::25' });
  const pod = (mainRoutes: Observed['mainRoutes']) =>
    freshPod({ cluster: { name: 'eth0', kind: 'veth', up: true, addresses: [{ family: 6, text: 'fd00:128::5', prefix: 64, scope: 'global' }] }, mainRoutes });

  it('replaces the metric-1024 default that IPv6 routes get, instead of deleting it afterwards', () => {
    const p = commands(plan(v6(), pod([{ dst: 'default', gateway: 'fd00:128::1', dev: 'eth0', metric: 1024, onlink: false }])));
    expect(p).toContain('ip -6 route replace default via 2001:db8:12::1 dev macvlan0');
    expect(p.some((c) => c.startsWith('ip -6 route del default'))).toBe(false);
    expect(p).toContain('ip -6 addr replace 2001:db8:12::99/64 dev macvlan0 nodad');
  });

  it('leaves its own default alone on a restart', () => {
    const p = commands(plan(v6(), pod([{ dst: 'default', gateway: '2001:db8:12::1', dev: 'macvlan0', metric: 1024, onlink: false }])));
    expect(p.some((c) => c.includes('default via 2001:db8:12::1'))).toBe(false);
  });

  it('sends no ARP for an IPv6 source, but a neighbour advertisement', () => {
    expect(plan(v6(), pod([])).announce.map((argv) => argv[0])).toEqual(['perl']);
  });
});

describe('plan for a restarted pod', () => {
  it('changes nothing but reloading the firewall transaction when everything is in place', () => {
    expect(commands(plan(config(), configuredPod()))).toEqual(['nft -f -']);
  });

  it('keeps the reply default it saved on the first run, now that the main default is gone', () => {
    const p = commands(plan(config(), configuredPod()));
    expect(p.some((c) => c.includes('route del') && c.includes('table 4552'))).toBe(false);
  });

  it('replaces reply rules for a pod address that changed', () => {
    const moved = configuredPod();
    moved.cluster = { name: 'eth0', kind: 'veth', up: true, addresses: [{ family: 4, text: '10.128.0.6', prefix: 23, scope: 'global' }] };
    const p = commands(plan(config(), moved));
    expect(p).toContain('ip -4 rule del priority 4552 from 10.128.0.5 lookup 4552');
    expect(p).toContain('ip -4 rule add priority 4552 from 10.128.0.6 lookup 4552');
  });
});

describe('nameservers', () => {
  const ns = (...texts: string[]) => texts.map((text) => ({ family: (text.includes(':') ? 6 : 4) as 4 | 6, text }));

  it('keeps each nameserver of the pod reachable through the cluster interface routes after the default moves', () => {
    const p = plan(config(), freshPod({ nameservers: ns('172.30.0.10', 'fd00::10') }));
    expect(commands(p)).toContain('ip -4 rule add priority 4552 to 172.30.0.10 lookup 4552');
    expect(commands(p).join('\n')).not.toContain('fd00::10');
  });

  it('leaves a nameserver on the egress subnet to the LAN, where it is', () => {
    expect(commands(plan(config(), freshPod({ nameservers: ns('192.168.12.53') }))).join('\n')).not.toContain('192.168.12.53');
  });

  it('adds nothing on a restart, and removes the rule of a nameserver that is gone', () => {
    const restarted = configuredPod();
    restarted.rules.push({ priority: 4552, src: 'all', dst: '172.30.0.10', table: '4552' });
    expect(commands(plan(config(), { ...restarted, nameservers: ns('172.30.0.10') })).filter((c) => c.includes('rule'))).toEqual([]);
    expect(commands(plan(config(), { ...restarted, nameservers: [] })).filter((c) => c.includes('rule'))).toEqual([
      'ip -4 rule del priority 4552 to 172.30.0.10 lookup 4552',
    ]);
  });
});

describe('preflight: nothing is planned for a pod that cannot be configured', () => {
  it('refuses a namespace without the macvlan interface', () => {
    expect(problems(config(), freshPod({ egress: undefined }))[0]).toMatch(/^interface macvlan0: not found in this network namespace; refusing/);
  });

  it('refuses an interface of another kind', () => {
    expect(problems(config(), freshPod({ egress: { name: 'macvlan0', kind: 'veth', up: true, addresses: [] } }))).toEqual([
      'interface macvlan0: is a veth interface; refusing to configure anything but a macvlan',
    ]);
  });

  it('names each missing tool and capability', () => {
    const found = problems(config(), freshPod({ tools: { ip: true }, capabilities: { netAdmin: false, netRaw: false } }));
    expect(found.map((p) => p.split(':')[0])).toEqual(['command nft', 'command arping', 'capability CAP_NET_ADMIN', 'capability CAP_NET_RAW']);
  });

  it('needs iptables-restore and iptables-save with the iptables backend', () => {
    const found = problems(config(), freshPod({ firewallBackend: 'iptables', tools: { ip: true, arping: true } }));
    expect(found.map((p) => p.split(':')[0])).toEqual(['command iptables-restore', 'command iptables-save']);
  });

  it('fails, naming the sysctl, when forwarding is off and /proc/sys is read-only', () => {
    expect(problems(config(), freshPod({ forwarding: { value: '0', writable: false } }))).toEqual([
      'sysctl net.ipv4.ip_forward: is 0 and /proc/sys is read-only here; enable it for the pod (securityContext.sysctls or the CNI) or run privileged',
    ]);
  });

  it('does not ask for capabilities in a dry run, which changes nothing', () => {
    expect(problems(config({ EGRESS_ROUTER_DRY_RUN: '1' }), freshPod({ capabilities: { netAdmin: false, netRaw: false } }))).toEqual([]);
  });
});

describe('dry run output', () => {
  it('prints every command and the ruleset as a shell script', () => {
    const text = renderDryRun(plan(config(), freshPod()));
    expect(text).toContain("nft -f - <<'RULESET'\ntable ip egress_router\n");
    expect(text).toContain('\nip -4 route replace default via 192.168.12.1 dev macvlan0\n');
    expect(text).toContain('\nsysctl -w net.ipv4.ip_forward=1\n');
    expect(text).toContain('\narping -A -c 1 -I macvlan0 192.168.12.99 &\n');
  });
});
