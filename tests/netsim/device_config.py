"""The configuration model of tests/netsim/device_shell.py: the persistent state
(Store), the config tree edits that config-mode lines make, and how a config prints.
Standard library only.

A config is a list of `[head, [child, ...]]` entries (see device_data.py). Files on
the device's file systems are kept in the state as `files[KEY] = {"data": base64 of
the bytes, "created": time}`, KEY like `bootflash:cand.cfg` (see file_key).
"""

import base64
import contextlib
import copy as copying
import fcntl
import json
import os
import re
import time

import device_data as data
from device_data import NXOS

BLOCKS = {
    "interface": "config-if",
    "vlan": "config-vlan",
    "line": "config-line",
    "router": "config-router",
    "vrf": "config-vrf",
}
TOP = set(BLOCKS) | {
    "hostname",
    "feature",
    "ip",
    "ipv6",
    "username",
    "snmp-server",
    "ntp",
    "logging",
    "banner",
    "spanning-tree",
    "service",
    "clock",
    "boot",
    "aaa",
    "access-list",
    "class-map",
    "policy-map",
    "errdisable",
    "cdp",
    "lldp",
    "enable",
    "system",
    "vpc",
    "mac",
    "license",
    "boot-start-marker",
    "boot-end-marker",
    "vtp",
    "radius-server",
    "tacacs-server",
    "crypto",
    "archive",
    "port-channel",
    "control-plane",
    "track",
}
SUB = {
    "config-if": {
        "description",
        "shutdown",
        "switchport",
        "ip",
        "ipv6",
        "mtu",
        "speed",
        "duplex",
        "channel-group",
        "spanning-tree",
        "vrf",
        "encapsulation",
        "bandwidth",
        "cdp",
        "lldp",
        "negotiation",
        "load-interval",
        "storm-control",
        "service-policy",
        "standby",
        "vpc",
        "udld",
        "delay",
        "logging",
        "medium",
        "power",
        "vrrp",
        "hsrp",
    },
    "config-vlan": {"name", "state", "shutdown", "vn-segment"},
    "config-line": {
        "login",
        "transport",
        "exec-timeout",
        "password",
        "session-limit",
        "privilege",
        "access-class",
        "logging",
        "length",
        "stopbits",
    },
    "config-router": {
        "router-id",
        "network",
        "neighbor",
        "address-family",
        "redistribute",
        "passive-interface",
        "log-adjacency-changes",
        "default-information",
    },
    "config-vrf": {"ip", "ipv6", "address-family", "description", "rd", "route-target"},
}
MULTI = {
    "ip",
    "ipv6",
    "switchport",
    "spanning-tree",
    "vpc",
    "standby",
    "storm-control",
    "service-policy",
    "cdp",
    "lldp",
    "udld",
    "logging",
    "vrf",
    "ntp",
    "feature",
    "snmp-server",
    "username",
    "service",
    "vtp",
    "clock",
    "banner",
    "aaa",
}
SINGLE_TOP = {
    "hostname",
    "ip domain-name",
    "ip domain name",
    "ip default-gateway",
    "spanning-tree mode",
    "vtp mode",
    "clock timezone",
    "banner motd",
    "enable secret",
}
FILESYSTEMS = ("bootflash:", "flash:", "disk0:", "nvram:", "volatile:", "usb1:")
# The platform's own file system; `flash:` and `bootflash:` both name it.
DEFAULT_FS = {NXOS: "bootflash:", data.IOS: "flash:"}
# Lines of a saved `show running-config` that are not configuration.
NOT_CONFIG = re.compile(
    r"Building configuration\.\.\.|Current configuration : \d+ bytes|version .*"
)


class Store:
    """The device's persistent state: a JSON file replaced atomically, changes under an
    exclusive lock (several sessions may run at once); in memory without a path."""

    def __init__(self, path, platform, hostname):
        self.path, self.platform, self.hostname = path, platform, hostname
        self.mem = None

    def fresh(self):
        t = time.time()
        tree = data.factory_config(self.platform, self.hostname)
        return {
            "booted": t - 1123200 - 3723,
            "changed": t,
            "saved": t,
            "running": tree,
            "startup": copying.deepcopy(tree),
            "checkpoints": {},
            "files": {},
        }

    def read(self):
        if not self.path:
            if self.mem is None:
                self.mem = self.fresh()
            return self.mem
        try:
            with open(self.path, encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            with self.update() as st:
                return st

    @contextlib.contextmanager
    def update(self):
        if not self.path:
            yield self.read()
            return
        with open(self.path + ".lock", "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(self.path, encoding="utf-8") as f:
                    st = json.load(f)
            except FileNotFoundError:
                st = self.fresh()
            yield st
            tmp = "%s.%d.tmp" % (self.path, os.getpid())
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(st, f)
            os.replace(tmp, self.path)


def words_at(line):
    """The words of a line with their columns."""
    return [(m.group(0), m.start()) for m in re.finditer(r"\S+", line)]


def expand(word, choices):
    """The one choice that `word` abbreviates, or None."""
    if word in choices:
        return word
    found = [c for c in choices if c.startswith(word.lower())]
    return found[0] if len(found) == 1 else None


def child_key(words):
    if words[0] == "switchport" and words[1:2] == ["trunk"]:
        return " ".join(words[:3])
    return " ".join(words[:2]) if words[0] in MULTI else words[0]


def set_child(platform, children, words):
    """Applies one sub-mode line to a block's lines."""
    neg = words[0] == "no"
    body = words[1:] if neg else words
    if not body:
        return
    key = child_key(body)
    keep = [
        c for c in children if child_key(c.split()[1:] if c.startswith("no ") else c.split()) != key
    ]
    if body[0] == "shutdown":
        line = "no shutdown" if neg and platform == NXOS else None if neg else "shutdown"
    else:
        line = None if neg else " ".join(words)
    pos = next((i for i, c in enumerate(children) if c not in keep), len(keep))
    children[:] = keep
    if line:
        # A new description goes first, as the devices print it.
        at = 0 if key == "description" and pos == len(keep) else min(pos, len(children))
        children.insert(at, line)


def insert_at(tree, head):
    """Where a new top-level entry goes: interfaces after the last interface, `line`
    and `router` blocks at the end, anything else before the first interface."""
    heads = [h for h, _ in tree]
    if head.startswith(("line ", "router ")):
        return len(tree)
    ifaces = [i for i, h in enumerate(heads) if h.startswith("interface ")]
    if head.startswith("interface "):
        return ifaces[-1] + 1 if ifaces else len(tree)
    return ifaces[0] if ifaces else len(tree)


def set_top(tree, words):
    """Applies one top-level config line (not a block) to the tree."""
    neg = words[0] == "no"
    body = words[1:] if neg else words
    text = " ".join(body)
    if neg:
        tree[:] = [e for e in tree if e[0] != text and not e[0].startswith(text + " ")]
        return
    single = next((k for k in SINGLE_TOP if text.startswith(k + " ")), None)
    for entry in tree:
        if entry[0] == text or (single and entry[0].startswith(single + " ")):
            entry[0] = text
            return
    tree.insert(insert_at(tree, text), [text, []])


def render(platform, tree):
    """A config's lines as the platform prints them (NX-OS indents by two and keeps a
    blank line before blocks, IOS by one with `!` after them)."""
    out = []
    for head, children in tree:
        block = head.split()[0] in ("interface", "vrf", "router", "line")
        if platform == NXOS:
            out += ([""] if block else []) + [head] + ["  " + c for c in children]
        else:
            out += [head] + [" " + c for c in children] + (["!"] if block or children else [])
    return out


def config_text(platform, st, startup=False):
    tree = st["startup" if startup else "running"]
    body = [data.VERSION_LINE[platform]] + render(platform, tree)
    if platform == NXOS:
        what = "startup-config" if startup else "running-config"
        last = (
            "!Startup config saved at: " + data.ctime(st["saved"])
            if startup
            else "!Running configuration last done at: " + data.ctime(st["changed"])
        )
        return ["", "!Command: show " + what, last, "!Time: " + data.ctime(), ""] + body
    lines = ["!", "! Last configuration change at " + data.ios_time(st["changed"])]
    if startup:
        lines.append("! NVRAM config last updated at " + data.ios_time(st["saved"]))
    lines += ["!"] + body + ["!", "end"]
    size = len("\n".join(lines)) + 1
    if startup:
        return ["Using %d out of 524288 bytes" % size] + lines
    return ["Building configuration...", "", "Current configuration : %d bytes" % size] + lines


def file_system(platform, word):
    """The file system `word` starts with (`flash:` and `bootflash:` both give the
    platform's own), or None."""
    fs = next((f for f in FILESYSTEMS if word.lower().startswith(f)), None)
    return DEFAULT_FS[platform] if fs in ("flash:", "bootflash:") else fs


def file_key(platform, word):
    """`bootflash:///x.cfg` → `bootflash:x.cfg` (NX-OS; IOS: `flash:x.cfg`); None when
    not a file URL we keep."""
    fs = file_system(platform, word)
    name = word[len(word.split(":", 1)[0]) + 1 :].lstrip("/") if fs else ""
    return fs + name if name else None


def scp_path(platform, path):
    """Where an SCP path points: (file system, name), the name "" for the file system
    itself (`flash:`, `bootflash:/`, `.`, ``); None for anything else (`..`, another
    file system, a sub-directory). `flash:`/`bootflash:` or nothing: the default one."""
    fs = file_system(platform, path)
    if ".." in path or fs not in (None, DEFAULT_FS[platform]):
        return None
    name = path.split(":", 1)[1].lstrip("/") if fs else "" if path == "." else path
    if any(c in name for c in "/:\0\n") or name == ".":
        return None
    return DEFAULT_FS[platform], name


def file_bytes(f):
    return base64.b64decode(f["data"])


def put_file(st, key, data):
    st["files"][key] = {"data": base64.b64encode(data).decode(), "created": time.time()}


def saved_text(platform, st):
    """What `copy running-config FILE` writes: the running config as shown, without
    IOS's `Building configuration...` preamble."""
    lines = config_text(platform, st)
    return "\n".join(lines[3:] if platform != NXOS else lines) + "\n"


def interface_name(platform, rest):
    """`e1/1` or `e 1/1` → `Ethernet1/1` (the platform's type names); None when the
    type is unknown."""
    m = re.fullmatch(r"([A-Za-z-]+)\s*(\d[\d/.:]*)", " ".join(rest))
    types = data.INTERFACE_TYPES[platform]
    kind = m and (
        expand(m.group(1), types)
        or next((t for t in types if t.lower().startswith(m.group(1).lower())), None)
    )
    return kind + m.group(2) if kind else None


def block_mode(head):
    """The sub-mode a top-level line enters (`config-if`, …), or None."""
    words = head.split()
    if words[0] == "vlan" and "," in words[-1]:
        return None
    return BLOCKS.get(words[0])


def checked_line(platform, line, mode):
    """A config file's line as config mode would store it, or None when config mode
    would refuse it: the keyword (after `no`) must be one of `mode`'s (TOP for a
    top-level line), an interface must be of a known type."""
    words = line.split()
    at = 1 if words[0] == "no" and len(words) > 1 else 0
    word = expand(words[at], SUB.get(mode, set()) if mode else TOP)
    if not word:
        return None
    if word == "interface" and not mode and not at:
        name = interface_name(platform, words[1:])
        return "interface " + name if name else None
    return " ".join(words[:at] + [word] + words[at + 1 :])


def parse_config(platform, text):
    """A config file as (tree, refused lines). Skipped: empty lines, `!` comments, the
    `version` line, a saved `show running-config`'s preamble; the file ends at `end`.
    An indented line belongs to the last top-level line (deeper levels flattened) and
    is refused when that line has no sub-mode or was refused itself. A refused line
    comes as (the top-level line it is under, as written, or None; the line)."""
    tree, refused, block, top = [], [], None, None
    for raw in text.replace("\r", "\n").split("\n"):
        line = raw.strip()
        top_level = raw[:1] not in (" ", "\t")
        if not line or line.startswith("!") or top_level and NOT_CONFIG.fullmatch(line):
            continue
        if top_level:
            if line == "end":
                break
            head, top = checked_line(platform, line, None), line
            block = [head, []] if head else None
            tree += [block] if block else []
            refused += [] if head else [(None, line)]
            continue
        mode = block_mode(block[0]) if block else None
        child = checked_line(platform, line, mode) if mode else None
        if child:
            block[1].append(child)
        else:
            refused.append((top, line))
    return tree, refused
