"""Junos NETCONF RPCs that fake-switches 1.5.0 lacks, patched in at run time by
tests/netsim/fake_switches.py (`install(core, hostname, user)`; site-packages is not
edited). The device answers as a QFX5100 (`qfx5100-48s-6q`) on Junos 21.4R3-S5.4.

RPCs added (replies inside fake-switches' `<rpc-reply>`):

* `<get-software-information/>` → `<software-information>` with `host-name`,
  `product-model`, `product-name`, `junos-version` and `package-information` rows.
* `<command format="text">CMD</command>` → `<output>TEXT</output>`, for `show version`,
  `show configuration`, `show interfaces terse`, `show system uptime` and
  `show system commit` (words may be shortened while unique: `sh ver`). Without
  `format` or with `format="xml"` the same commands answer Junos's XML
  (`software-information`, `configuration`, `interface-information`,
  `system-uptime-information`, `commit-information`). Any other command: an
  `<rpc-error>` (protocol / operation-failed / error) with the message
  `syntax error, expecting <command>: CMD`; another format: `<rpc-error>` too.
* `<load-configuration rollback="N"/>` → `<load-configuration-results><ok/>…`: the
  candidate becomes committed configuration N of the history (below). Also
  `<load-configuration [action="merge"|"replace"]><configuration>…` (XML, handled as
  edit-config of the candidate). No such N: `Cannot find rollback file N`.
* `<get-commit-information/>` (`show system commit`) and
  `<get-rollback-information><rollback>N</rollback>[<compare>M</compare>]`: rollback N
  as curly-brace text, or a unified diff from N to M, in
  `<rollback-information><ok/><configuration-information><configuration-output>`.
* `<cancel-commit/>`: a pending confirmed commit rolls back now.

Commit history: every successful commit (`<commit>`, `<commit-configuration>`; a
`<check/>` only validates) puts the new running configuration first in a history of at
most 50 (index 0 = the active one, as `rollback 0`); the launch configuration is the
first entry. After a commit the candidate is a fresh copy of running (its lock kept).

Confirmed commit: `<commit><confirmed/><confirm-timeout>S</confirm-timeout></commit>`
(seconds, RFC 6241; default 600) or `<commit-configuration><confirmed/>
<confirm-timeout>M</confirm-timeout>` (minutes, Junos) commits and arms a timer. Any
commit without `<confirmed/>` before it fires confirms (disarms); another confirmed
commit re-arms it with its own timeout, keeping the first one's rollback target. When
it fires, the configuration that was running before the first unconfirmed commit is
loaded and committed (a new history entry by `root` via `other`, log `commit confirmed
rollback`), and uncommitted candidate changes are dropped.
"""

import copy
import datetime
import difflib
import logging
import time
from collections import namedtuple

from lxml import etree
from twisted.internet import reactor

from fake_switches.juniper.juniper_core import NetconfJunos1_0
from fake_switches.juniper.juniper_netconf_datastore import NS_JUNOS, JuniperNetconfDatastore
from fake_switches.netconf import CANDIDATE, RUNNING, NetconfError, Response
from fake_switches.netconf.capabilities import Base1_0

MODEL = "qfx5100-48s-6q"
VERSION = "21.4R3-S5.4"
MAX_HISTORY = 50
DEFAULT_CONFIRM_S = 600
LOG = logging.getLogger("fake_junos")
PACKAGES = [
    ("junos", "JUNOS Base OS Software Suite [%s]"),
    ("junos-libs", "JUNOS OS libs [%s]"),
    ("junos-runtime", "JUNOS OS runtime [%s]"),
    ("junos-platform", "JUNOS qfx-ex Platform Software Suite [%s]"),
    ("junos-modules", "JUNOS Kernel Software Suite [%s]"),
    ("jweb", "JUNOS Web Management Platform Package [%s]"),
]
# A list element shown by its name alone in curly-brace text (`interfaces { ge-0/0/1 {`).
NAMED_ONLY = {"interfaces": "interface", "vlans": "vlan"}

Commit = namedtuple("Commit", "config when user client log")


def rpc_error(message, tag="operation-failed", err_type="protocol"):
    return NetconfError(message, err_type=err_type, tag=tag)


def stamp(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )


def ago(seconds):
    s = int(seconds)
    return "%02d:%02d:%02d ago" % (s // 3600, s // 60 % 60, s % 60)


class Junos:
    """The device's state beside fake-switches' datastore: history and confirm timer."""

    def __init__(self, datastore, hostname, user):
        self.ds, self.hostname, self.user = datastore, hostname, user
        self.booted = time.time()
        self.history = [Commit(self.snapshot(), self.booted, "root", "other", None)]
        self.timer = None
        self.restore = None

    def snapshot(self):
        return copy.deepcopy(self.ds.configurations[RUNNING])

    def set_candidate(self, config):
        locked = self.ds.configurations[CANDIDATE].locked
        candidate = copy.deepcopy(config)
        candidate.routing_engine = None
        candidate.locked = locked
        self.ds.configurations[CANDIDATE] = candidate

    def commit(self, user=None, client="netconf", log=None):
        """Candidate → running (fake-switches validates); a new history entry."""
        self.ds.commit_candidate()
        self.ds.configurations[CANDIDATE].commit()
        self.set_candidate(self.ds.configurations[RUNNING])
        entry = Commit(self.snapshot(), time.time(), user or self.user, client, log)
        self.history.insert(0, entry)
        del self.history[MAX_HISTORY:]

    def rollback(self, text):
        """History entry `text` (a number), else Junos's error."""
        n = text.strip() if text else ""
        if not n.isdigit() or int(n) >= MAX_HISTORY:
            raise rpc_error("invalid rollback number '%s': expecting 0..49" % n)
        if int(n) >= len(self.history):
            raise rpc_error("Cannot find rollback file %d" % int(n))
        return self.history[int(n)]

    def arm(self, seconds):
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        else:
            self.restore = self.history[1].config
        self.timer = reactor.callLater(seconds, self.expire)
        LOG.info("confirmed commit: rolls back in %ss unless confirmed", seconds)

    def disarm(self):
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
            LOG.info("confirmed commit confirmed")
        self.timer = self.restore = None

    def expire(self):
        restore, self.timer, self.restore = self.restore, None, None
        self.set_candidate(restore)
        try:
            self.commit("root", "other", "commit confirmed rollback")
            LOG.warning("confirmed commit not confirmed in time: rolled back")
        except NetconfError as e:
            LOG.error("confirmed commit rollback failed: %s", e)


def state(capability):
    return capability.datastore.junos


# ---- commit, load-configuration, history ---------------------------------------------


def confirm_timeout(request, unit):
    text = request.findtext("confirm-timeout")
    if text is None:
        return DEFAULT_CONFIRM_S
    if not text.strip().isdigit() or not 0 < int(text) <= 65535:
        raise rpc_error("Invalid numeric value: '%s'" % text.strip(), "invalid-value")
    return int(text) * unit


def commit(self, request=None, unit=1):
    """`<commit>` (confirm-timeout in seconds) and, with unit=60, Junos's
    `<commit-configuration>` (minutes)."""
    junos = state(self)
    if request is not None and request.find("check") is not None:
        self.datastore._validate(self.datastore.configurations[CANDIDATE])
        return Response(etree.Element("ok"))
    confirmed = request is not None and request.find("confirmed") is not None
    seconds = confirm_timeout(request, unit) if confirmed else None
    junos.commit(log=request.findtext("log") if request is not None else None)
    if confirmed:
        junos.arm(seconds)
    else:
        junos.disarm()
    return Response(etree.Element("ok"))


def commit_configuration(self, request=None):
    return commit(self, request, unit=60)


def cancel_commit(self, _request):
    junos = state(self)
    if junos.timer is None or not junos.timer.active():
        raise rpc_error("No confirmed commit is pending", "invalid-value")
    junos.timer.cancel()
    junos.expire()
    return Response(etree.Element("ok"))


def load_configuration(self, request):
    junos = state(self)
    if request.get("rollback") is not None:
        junos.set_candidate(junos.rollback(request.get("rollback")).config)
    else:
        config = request.find("configuration")
        action = request.get("action", "merge")
        if config is None or action not in ("merge", "replace"):
            raise rpc_error(
                "the simulator loads only rollback=N or XML with action merge or replace",
                "operation-not-supported",
            )
        self.datastore.edit(CANDIDATE, config)
    results = etree.Element("load-configuration-results")
    etree.SubElement(results, "ok")
    return Response(results)


def commit_information(junos):
    root = etree.Element("commit-information")
    for i, c in enumerate(junos.history):
        entry = etree.SubElement(root, "commit-history")
        etree.SubElement(entry, "sequence-number").text = str(i)
        etree.SubElement(entry, "user").text = c.user
        etree.SubElement(entry, "client").text = c.client
        when = etree.SubElement(entry, "date-time")
        when.set("{%s}seconds" % NS_JUNOS, str(int(c.when)))
        when.text = stamp(c.when)
        if c.log:
            etree.SubElement(entry, "log").text = c.log
    return root


def get_commit_information(self, _request):
    return Response(commit_information(state(self)))


def get_rollback_information(self, request):
    junos = state(self)
    n = request.findtext("rollback") or "0"
    text = curly_text(junos, junos.rollback(n))
    compare = request.findtext("compare")
    if compare is not None:
        other = curly_text(junos, junos.rollback(compare))
        diff = difflib.unified_diff(text.splitlines(), other.splitlines(), lineterm="", n=1)
        text = "\n".join(list(diff)[2:]) + "\n"
    root = etree.Element("rollback-information")
    etree.SubElement(root, "ok")
    info = etree.SubElement(root, "configuration-information")
    etree.SubElement(info, "configuration-output").text = text
    return Response(root)


# ---- operational data ----------------------------------------------------------------


def software_information(junos):
    root = etree.Element("software-information")
    for tag, text in [
        ("host-name", junos.hostname),
        ("product-model", MODEL),
        ("product-name", MODEL),
        ("junos-version", VERSION),
    ]:
        etree.SubElement(root, tag).text = text
    for name, comment in PACKAGES:
        pkg = etree.SubElement(root, "package-information")
        etree.SubElement(pkg, "name").text = name
        etree.SubElement(pkg, "comment").text = comment % VERSION
    return root


def get_software_information(self, _request):
    return Response(software_information(state(self)))


def version_text(junos):
    lines = ["Hostname: " + junos.hostname, "Model: " + MODEL, "Junos: " + VERSION]
    return "\n".join(lines + [comment % VERSION for _, comment in PACKAGES]) + "\n"


def uptime_information(junos):
    now, last = time.time(), junos.history[0]
    root = etree.Element("system-uptime-information")
    for tag, seconds in [
        ("current-time", now),
        ("system-booted-time", junos.booted),
        ("protocols-started-time", junos.booted),
        ("last-configured-time", last.when),
    ]:
        node = etree.SubElement(etree.SubElement(root, tag), "date-time")
        node.set("{%s}seconds" % NS_JUNOS, str(int(seconds)))
        node.text = stamp(seconds)
    etree.SubElement(root.find("last-configured-time"), "user").text = last.user
    return root


def uptime_text(junos):
    now, last = time.time(), junos.history[0]
    up = int(now - junos.booted)
    return (
        "Current time: %s\nTime Source:  LOCAL CLOCK\n" % stamp(now)
        + "System booted: %s (%s)\n" % (stamp(junos.booted), ago(now - junos.booted))
        + "Protocols started: %s (%s)\n" % (stamp(junos.booted), ago(now - junos.booted))
        + "Last configured: %s (%s) by %s\n" % (stamp(last.when), ago(now - last.when), last.user)
        + "%s  up %d:%02d, 1 user, load averages: 0.12, 0.08, 0.05\n"
        % (time.strftime("%I:%M%p", time.gmtime(now)), up // 3600, up // 60 % 60)
    )


def commit_text(junos):
    out = []
    for i, c in enumerate(junos.history):
        out.append("%-4d%s by %s via %s" % (i, stamp(c.when), c.user, c.client))
        if c.log:
            out.append("    " + c.log)
    return "\n".join(out) + "\n"


def terse_rows(port):
    admin = "down" if port.shutdown else "up"
    rows = [(port.name, admin, "down", "")]
    if port.vendor_specific.get("has-ethernet-switching"):
        rows.append((port.name + ".0", admin, "down", "eth-switch"))
    return rows


def terse_text(junos):
    ports = junos.ds.configurations[RUNNING].ports
    out = ["%-24s%-6s%-5s%-9s%-22sRemote" % ("Interface", "Admin", "Link", "Proto", "Local")]
    for port in ports:
        for row in terse_rows(port):
            out.append(("%-24s%-6s%-5s%s" % row).rstrip())
    return "\n".join(out) + "\n"


def terse_xml(junos):
    return junos.ds.get_interface_information_terse()


# ---- configuration as Junos curly-brace text ------------------------------------------


def word(text):
    text = (text or "").strip()
    if text == "" or any(c in text for c in ' \t;{}#"'):
        return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')
    return text


def local(node):
    return etree.QName(node).localname


def curly(node, depth):
    """Lines of `node`'s children as Junos shows them (4 spaces an indent level)."""
    pad, out, listed = "    " * depth, [], set()
    for kid in node:
        tag = local(kid)
        if tag == "name" or tag in listed:
            continue
        if len(kid):
            out += curly_block(kid, depth, local(node))
            continue
        same = [k for k in node if local(k) == tag and not len(k)]
        if len(same) > 1:
            listed.add(tag)
            out.append("%s%s [ %s ];" % (pad, tag, " ".join(word(k.text) for k in same)))
        elif kid.text and kid.text.strip():
            out.append("%s%s %s;" % (pad, tag, word(kid.text)))
        else:
            out.append("%s%s;" % (pad, tag))
    return out


def curly_block(kid, depth, parent):
    pad, tag = "    " * depth, local(kid)
    name = kid.find("name")
    if name is None:
        head = tag
    elif NAMED_ONLY.get(parent) == tag:
        head = word(name.text)
    else:
        head = "%s %s" % (tag, word(name.text))
    return ["%s%s {" % (pad, head)] + curly(kid, depth + 1) + ["%s}" % pad]


def configuration_xml(junos, config):
    """`config` (a fake-switches SwitchConfiguration) as `<configuration>`."""
    saved = junos.ds.configurations[RUNNING]
    junos.ds.configurations[RUNNING] = config
    try:
        return junos.ds.to_etree(RUNNING)[0]
    finally:
        junos.ds.configurations[RUNNING] = saved


def curly_text(junos, entry):
    head = [
        "## Last commit: %s by %s" % (stamp(entry.when), entry.user),
        "version %s;" % VERSION,
        "system {",
        "    host-name %s;" % word(junos.hostname),
        "}",
    ]
    return "\n".join(head + curly(configuration_xml(junos, entry.config), 0)) + "\n"


def stamped_to_etree(original):
    """fake-switches' `to_etree` with the last commit's stamps instead of 2014's."""

    def to_etree(self, source):
        data = original(self, source)
        junos = getattr(self, "junos", None)
        if junos is not None and len(data):
            last = junos.history[0]
            data[0].set("{%s}commit-seconds" % NS_JUNOS, str(int(last.when)))
            data[0].set("{%s}commit-localtime" % NS_JUNOS, stamp(last.when))
            data[0].set("{%s}commit-user" % NS_JUNOS, last.user)
        return data

    return to_etree


# ---- <command> -------------------------------------------------------------------------

# command → (text, XML) builders, each taking the Junos state.
COMMANDS = {
    "show version": (version_text, software_information),
    "show configuration": (lambda j: curly_text(j, j.history[0]), None),
    "show interfaces terse": (terse_text, terse_xml),
    "show system uptime": (uptime_text, uptime_information),
    "show system commit": (commit_text, commit_information),
}


def resolve(cmd):
    """The command `cmd` names (each word a unique prefix), or None."""
    words = cmd.split()
    found = [
        c
        for c in COMMANDS
        if len(c.split()) == len(words) and all(w.startswith(t) for t, w in zip(words, c.split()))
    ]
    exact = [c for c in found if c.split() == words]
    return (exact or found)[0] if len(exact or found) == 1 else None


def command(self, request):
    junos, cmd = state(self), " ".join((request.text or "").split())
    name, fmt = resolve(cmd), request.get("format", "xml")
    if name is None:
        raise rpc_error("syntax error, expecting <command>: %s" % cmd)
    text, xml = COMMANDS[name]
    if fmt == "text":
        out = etree.Element("output")
        out.text = "\n" + text(junos)
        return Response(out)
    if fmt != "xml":
        raise rpc_error("format '%s' is not supported by the simulator" % fmt, "invalid-value")
    if xml is None:
        return Response(configuration_xml(junos, junos.history[0].config))
    return Response(xml(junos))


# ---- installation --------------------------------------------------------------------


def install(core, hostname, user):
    """Adds the RPCs above to fake-switches' Juniper NETCONF server of `core`."""
    core.datastore.junos = Junos(core.datastore, hostname, user)
    JuniperNetconfDatastore.to_etree = stamped_to_etree(JuniperNetconfDatastore.to_etree)
    Base1_0.commit = commit
    Base1_0.commit_configuration = commit_configuration
    Base1_0.cancel_commit = cancel_commit
    for fn in [
        load_configuration,
        get_commit_information,
        get_rollback_information,
        get_software_information,
        command,
    ]:
        setattr(NetconfJunos1_0, fn.__name__, fn)
