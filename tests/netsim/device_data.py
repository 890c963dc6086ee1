"""Canned texts and factory configurations of tests/netsim/device_shell.py: what an
NX-OS 9.3(8) Nexus 9000 and an IOS 15.2 Catalyst 2960-X print. Standard library only.

A configuration is a list of `[head, [child, ...]]` entries: a top-level line and the
lines of its block (children, stored without indentation).
"""

import time

NXOS, IOS = "nxos", "ios"

BANNER = {
    NXOS: """
Cisco Nexus Operating System (NX-OS) Software
TAC support: http://www.cisco.com/tac
Copyright (C) 2002-2021, Cisco and/or its affiliates.
All rights reserved.
The copyrights to certain works contained in this software are
owned by other third parties and used and distributed under their own
licenses, such as open source.  This software is provided "as is," and unless
otherwise stated, there is no warranty, express or implied, including but not
limited to warranties of merchantability and fitness for a particular purpose.
""",
    IOS: """
**************************************************************************
* Lab switch managed by mcpd tests. Authorized access only.              *
**************************************************************************
""",
}

NXOS_VERSION = """Cisco Nexus Operating System (NX-OS) Software
TAC support: http://www.cisco.com/tac
Copyright (C) 2002-2021, Cisco and/or its affiliates.
All rights reserved.

Software
  BIOS: version 05.45
  NXOS: version 9.3(8)
  BIOS compile time:  05/17/2021
  NXOS image file is: bootflash:///nxos.9.3.8.bin
  NXOS compile time:  8/18/2021 14:00:00 [08/18/2021 22:04:21]


Hardware
  cisco Nexus9000 C93180YC-EX chassis
  Intel(R) Xeon(R) CPU  @ 1.80GHz with 24569604 kB of memory.
  Processor Board ID FDO21120U5D

  Device name: {hostname}
  bootflash:   53298520 kB
Kernel uptime is {days} day(s), {hours} hour(s), {minutes} minute(s), {seconds} second(s)

Last reset at 235427 usecs after Mon Sep 14 08:12:30 2026

  Reason: Reset Requested by CLI command reload
  System version: 9.3(8)
  Service:

plugin
  Core Plugin, Ethernet Plugin

Active Package(s):
"""

IOS_VERSION = """Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2(7)E4, RELEASE SOFTWARE (fc2)
Technical Support: http://www.cisco.com/techsupport
Copyright (c) 1986-2021 by Cisco Systems, Inc.
Compiled Mon 01-Mar-21 10:09 by prod_rel_team

ROM: Bootstrap program is C2960X boot loader
BOOTLDR: C2960X Boot Loader (C2960X-HBOOT-M) Version 15.2(7r)E, RELEASE SOFTWARE (fc1)

{hostname} uptime is {days} days, {hours} hours, {minutes} minutes
System returned to ROM by power-on
System image file is "flash:c2960x-universalk9-mz.152-7.E4.bin"

cisco WS-C2960X-24TS-L (APM86XXX) processor (revision D0) with 524288K bytes of memory.
Processor board ID FOC2130X0AB
Last reset from power-on
1 Virtual Ethernet interface
28 Gigabit Ethernet interfaces
The password-recovery mechanism is enabled.

512K bytes of flash-simulated non-volatile configuration memory.
Base ethernet MAC Address       : 00:11:22:33:44:80
Model number                    : WS-C2960X-24TS-L
System serial number            : FOC2130X0AB

Switch Ports Model                     SW Version            SW Image
------ ----- -----                     ----------            ----------
*    1 28    WS-C2960X-24TS-L          15.2(7)E4             C2960X-UNIVERSALK9-M


Configuration register is 0xF
"""

# The first line of a running/startup config after the header, not editable.
VERSION_LINE = {NXOS: "version 9.3(8) Bios:version 05.45", IOS: "version 15.2"}

# The interface types a platform has, for `interface e1/1` and friends.
INTERFACE_TYPES = {
    NXOS: ["Ethernet", "loopback", "mgmt", "port-channel", "Vlan", "Tunnel"],
    IOS: [
        "GigabitEthernet",
        "FastEthernet",
        "TenGigabitEthernet",
        "Loopback",
        "Port-channel",
        "Vlan",
        "Tunnel",
    ],
}


def factory_config(platform, hostname):
    """The configuration a fresh device boots with."""
    if platform == NXOS:
        return _nxos_config(hostname)
    return _ios_config(hostname)


def _nxos_config(hostname):
    tree = [
        ["hostname " + hostname, []],
        ["feature lacp", []],
        ["feature lldp", []],
        ["username admin password 5 $5$NETSIM$2rA0mQ1xDJxw.VNhAeHkG6 role network-admin", []],
        ["ip domain-lookup", []],
        [
            "snmp-server user admin network-admin auth md5 0x1f2e3d4c priv 0x1f2e3d4c localizedkey",
            [],
        ],
        ["ntp server 192.0.2.123 use-vrf management", []],
        ["vlan 1,10,20", []],
        ["vlan 10", ["name users"]],
        ["vlan 20", ["name servers"]],
        ["vrf context management", ["ip route 0.0.0.0/0 192.0.2.1"]],
    ]
    for i in range(1, 9):
        if i == 1:
            children = [
                "description uplink to core",
                "switchport mode trunk",
                "switchport trunk allowed vlan 10,20",
            ]
        else:
            children = ["switchport access vlan %d" % (10 if i % 2 else 20)]
        tree.append(["interface Ethernet1/%d" % i, children + ["no shutdown"]])
    tree += [
        ["interface mgmt0", ["vrf member management", "ip address 192.0.2.10/24"]],
        ["line console", []],
        ["line vty", ["exec-timeout 30"]],
    ]
    return tree


def _ios_config(hostname):
    tree = [
        ["no service pad", []],
        ["service timestamps debug datetime msec", []],
        ["service timestamps log datetime msec", []],
        ["hostname " + hostname, []],
        ["boot-start-marker", []],
        ["boot-end-marker", []],
        ["enable secret 5 $1$NETS$im9u0Cj4yZP1c0GlQhS.8/", []],
        ["username admin privilege 15 secret 5 $1$NETS$Ko1Eo9VuE2lM2D8f0Y7rH/", []],
        ["no aaa new-model", []],
        ["ip domain-name lab.example", []],
        ["spanning-tree mode rapid-pvst", []],
        ["vlan 10", ["name users"]],
        ["vlan 20", ["name servers"]],
    ]
    for i in range(1, 9):
        if i == 1:
            children = ["description uplink to core", "switchport mode trunk"]
        else:
            children = [
                "switchport access vlan %d" % (10 if i % 2 else 20),
                "switchport mode access",
            ]
        tree.append(["interface GigabitEthernet0/%d" % i, children])
    tree += [
        ["interface Vlan1", ["ip address 192.0.2.20 255.255.255.0"]],
        ["ip default-gateway 192.0.2.1", []],
        ["line con 0", []],
        ["line vty 0 4", ["login local", "transport input ssh"]],
    ]
    return tree


def ctime(t=None):
    """NX-OS's clock format: `Sat Nov  1 10:05:12 2026`."""
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(t))


def ios_time(t=None):
    """IOS's: `10:05:12 UTC Sat Nov 1 2026`."""
    lt = time.gmtime(t)
    return time.strftime("%H:%M:%S UTC %a %b ", lt) + str(lt.tm_mday) + time.strftime(" %Y", lt)


def uptime_parts(seconds):
    seconds = int(seconds)
    return {
        "days": seconds // 86400,
        "hours": seconds // 3600 % 24,
        "minutes": seconds // 60 % 60,
        "seconds": seconds % 60,
    }


def tech_support_lines(hostname):
    """What `show tech-support` prints (the shell sends it slowly)."""
    lines = []
    for section in (
        "show version",
        "show running-config",
        "show interface brief",
        "show logging last 20",
        "show processes cpu",
        "show system resources",
    ):
        lines += ["", "`%s`" % section]
        lines += ["%s: %s section line %d" % (hostname, section.split()[1], n) for n in range(1, 5)]
    return lines


CRASH_LINES = [
    "Kernel panic - not syncing: netsim: fatal exception in interrupt",
    "CPU: 0 PID: 1 Comm: sysmgr Tainted: P           O",
    "Call Trace:",
    " [<ffffffff8100a2c4>] panic+0xc4/0x1e3",
]
