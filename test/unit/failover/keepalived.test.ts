/** keepalived as the router runs it: configuration, command line, FIFO lines, log lines. */
import { describe, expect, it } from 'vitest';
import { advertSourceFor } from '../../../src/failover/advert-source.js';
import { isKeepalivedWarning, keepalivedCommand, keepalivedFiles, parseNotifyLine, renderKeepalivedConfig, stripLogTimestamp } from '../../../src/failover/keepalived.js';
import type { FailoverSettings } from '../../../src/failover/settings.js';

const settings: FailoverSettings = { routerId: 42, priority: 100, advertIntervalMs: 200, workDir: '/run/egress-router' };
const files = keepalivedFiles('/run/egress-router');

describe('keepalived configuration', () => {
  it('for IPv4: one backup instance on the egress interface, sub-second VRRPv3 adverts from the link-local address, no preemption, the source as virtual address', () => {
    const text = renderKeepalivedConfig({ settings, egressInterface: 'macvlan0', source: { family: 4, text: '192.168.12.99', prefix: 24 }, advertSource: { family: 4, text: '169.254.221.249' }, files });
    expect(text).toBe(`# Written by egress-router at every start of keepalived; changes here are overwritten.
global_defs {
	# VRRPv3 (RFC 5798): advertisement intervals below a second
	vrrp_version 3
	# state changes for the router: INSTANCE "egress_router" MASTER|BACKUP|FAULT|STOP <priority>
	vrrp_notify_fifo /run/egress-router/keepalived.fifo
	vrrp_garp_master_repeat 3
	vrrp_garp_master_delay 2
	vrrp_garp_master_refresh 10
	vrrp_garp_master_refresh_repeat 1
	# after two holders (a healed partition), the loser's last advert makes the winner announce
	# again, so the LAN ends up with the winner's MAC address
	vrrp_higher_prio_send_advert true
}

vrrp_instance egress_router {
	# every replica starts as a backup and never preempts a healthy holder: no flapping
	state BACKUP
	nopreempt
	interface macvlan0
	virtual_router_id 42
	priority 100
	advert_int 0.20
	mcast_src_ip 169.254.221.249
	track_src_ip
	virtual_ipaddress {
		192.168.12.99/24 dev macvlan0
	}
}
`);
  });

  it('for IPv6: advertisements from the kernel\'s link-local address, so no mcast_src_ip', () => {
    const text = renderKeepalivedConfig({ settings: { ...settings, advertIntervalMs: 1000, priority: 150 }, egressInterface: 'net1', source: { family: 6, text: '2001:db8:12::99', prefix: 64 }, files });
    expect(text).not.toContain('mcast_src_ip');
    expect(text).toContain('\tinterface net1\n');
    expect(text).toContain('\tadvert_int 1.00\n');
    expect(text).toContain('\tpriority 150\n');
    expect(text).toContain('\tvirtual_ipaddress {\n\t\t2001:db8:12::99/64 dev net1\n\t}\n');
  });

  it('keeps every file keepalived writes inside the work directory', () => {
    expect(Object.values(keepalivedFiles('/var/lib/x')).every((path) => path.startsWith('/var/lib/x/'))).toBe(true);
  });

  it('runs keepalived in the foreground, VRRP only, under setpriv so that it dies with the router', () => {
    expect(keepalivedCommand(files)).toEqual([
      'setpriv', '--pdeathsig', 'KILL',
      'keepalived', '--dont-fork', '--vrrp', '--log-console', '--log-detail', '--no-syslog',
      '--use-file', '/run/egress-router/keepalived.conf', '--pid', '/run/egress-router/keepalived.pid', '--vrrp_pid', '/run/egress-router/keepalived-vrrp.pid',
    ]);
  });
});

describe('keepalived FIFO lines', () => {
  it.each([
    ['INSTANCE "egress_router" MASTER 100', 'MASTER'],
    ['INSTANCE "egress_router" BACKUP 100\n', 'BACKUP'],
    ['INSTANCE "egress_router" FAULT 254', 'FAULT'],
    ['INSTANCE "egress_router" STOP 100', 'STOP'],
    ['INSTANCE "egress_router" DELETED 100', 'STOP'],
  ])('%j is the state %s', (line, state) => {
    expect(parseNotifyLine(line)).toBe(state);
  });

  it.each([
    'INSTANCE "egress_router" MASTER_RX_LOWER_PRI 100',
    'INSTANCE "egress_router" MASTER_PRIORITY 90',
    'INSTANCE "other" MASTER 100',
    'GROUP "egress_router" MASTER 100',
    'INSTANCE "egress_router" MASTER',
    '',
  ])('%j says nothing about the role', (line) => {
    expect(parseNotifyLine(line)).toBeUndefined();
  });
});

describe('keepalived log lines', () => {
  it('lose their timestamp', () => {
    expect(stripLogTimestamp('Wed Nov 25 09:25:37 2026: (egress_router) Entering MASTER STATE')).toBe('(egress_router) Entering MASTER STATE');
    expect(stripLogTimestamp('Sun Mar  1 01:02:03 2026: Stopped')).toBe('Stopped');
  });

  it('that report trouble are warnings, and a path with "failover" in it is not', () => {
    expect(isKeepalivedWarning('Error 1 while registering gratuitous ARP shared channel')).toBe(true);
    expect(isKeepalivedWarning('pid 20308 exited with permanent error missing permission. Terminating')).toBe(true);
    expect(isKeepalivedWarning('(egress_router) WARNING - equal priority advert received from remote host with our IP address.')).toBe(true);
    expect(isKeepalivedWarning('Netlink: error: Operation not permitted(1), type=RTM_NEWADDR(20)')).toBe(true);
    expect(isKeepalivedWarning("Opening file '/tmp/egress-router-failover-x/keepalived.conf'.")).toBe(false);
    expect(isKeepalivedWarning('(egress_router) Entering BACKUP STATE (init)')).toBe(false);
  });
});

describe('the advertisement source', () => {
  it('is a link-local address outside RFC 3927\'s reserved first and last 256, from the MAC\'s last two bytes', () => {
    expect(advertSourceFor('ce:b2:ab:93:dd:f9')).toEqual({ family: 4, text: '169.254.222.249' });
    expect(advertSourceFor('02:00:00:00:00:00')).toEqual({ family: 4, text: '169.254.1.0' });
    expect(advertSourceFor('02:00:00:00:fd:ff')).toEqual({ family: 4, text: '169.254.254.255' });
    // Past the 65,024 usable addresses the count wraps around to the start.
    expect(advertSourceFor('02:00:00:00:fe:00')).toEqual({ family: 4, text: '169.254.1.0' });
    expect(advertSourceFor('02:00:00:00:FF:FF')).toEqual({ family: 4, text: '169.254.2.255' });
  });

  it('differs between interfaces whose MACs differ in their last 16 bits', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 65024; i += 97) seen.add(advertSourceFor(`02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`)!.text);
    expect(seen.size).toBe(Math.ceil(65024 / 97));
  });

  it('is undefined for something that is not a MAC address', () => {
    for (const mac of ['', '00:00:00:00:00', 'zz:00:00:00:00:00', '0:0:0:0:0:0', '00-11-22-33-44-55']) expect(advertSourceFor(mac)).toBeUndefined();
  });
});
