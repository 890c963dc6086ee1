"""Drive the Junos RPCs that tests/netsim/fake_junos.py adds to fake-switches' Juniper
NETCONF server with ncclient (device handler `junos`), as tests/netsim_check.rs does:

    check_junos.py --port P --username U --password PW [--hostname switch]

Checks get-software-information, the `<command>` RPC (text and XML, an unknown
command's rpc-error), the commit history with `load-configuration rollback="N"`, and
confirmed commits (one left to roll back by itself, one confirmed in time). Every check
prints `ok   <what>`; the first failure prints `FAIL <what>: <detail>` and exits 1. The
last line is `junos: N checks passed`.
"""

import argparse
import re
import sys
import time
import uuid

from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError
from ncclient.xml_ import to_ele

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
# pylint: disable=wrong-import-position
from check_clients import PASSED, check, xml_of

CONFIRMED_COMMIT = "<commit><confirmed/><confirm-timeout>2</confirm-timeout></commit>"


def connect(a):
    return manager.connect(
        host="127.0.0.1",
        port=a.port,
        username=a.username,
        password=a.password,
        hostkey_verify=False,
        device_params={"name": "junos"},
        allow_agent=False,
        look_for_keys=False,
        timeout=20,
    )


def rpc(m, xml):
    """The reply's XML to the raw RPC `xml`."""
    return xml_of(m.dispatch(to_ele(xml)))


def rpc_error(call):
    """The RPCError `call()` raises, or None."""
    try:
        call()
    except RPCError as e:
        return e
    return None


def text_of(xml, tag):
    found = re.search(r"<%s>([^<]*)</%s>" % (tag, tag), xml)
    return found.group(1) if found else None


def descriptions(m, source="running"):
    return re.findall(r"<description>([^<]*)</description>", xml_of(m.get_config(source)))


def set_description(m, port, text):
    cfg = (
        "<config><configuration><interfaces><interface><name>%s</name>"
        "<description>%s</description></interface></interfaces></configuration></config>"
        % (port, text)
    )
    check("<ok/>" in xml_of(m.edit_config(target="candidate", config=cfg)), "edit " + text)


def check_software_information(m, a):
    xml = rpc(m, "<get-software-information/>")
    want = {
        "host-name": a.hostname,
        "product-model": "qfx5100-48s-6q",
        "product-name": "qfx5100-48s-6q",
        "junos-version": "21.4R3-S5.4",
    }
    got = {tag: text_of(xml, tag) for tag in want}
    check(got == want, "get-software-information: host-name, qfx5100-48s-6q, 21.4R3-S5.4", xml)


def check_commands(m, a):
    out = xml_of(m.command("show version", format="text"))
    wanted = ["<output>", "Hostname: " + a.hostname, "Model: qfx5100-48s-6q", "Junos: 21.4R3-S5.4"]
    what = "command show version (text): <output> with Hostname, Model, Junos"
    check(all(w in out for w in wanted), what, out)
    out = xml_of(m.command("show interfaces terse", format="text"))
    check(re.search(r"\nge-0/0/1 +up +down", out), "command show interfaces terse (text)", out)
    out = xml_of(m.command("show system uptime", format="text"))
    check("System booted: " in out, "command show system uptime (text)", out)
    out = xml_of(m.command("show configuration", format="text"))
    check("host-name %s;" % a.hostname in out, "command show configuration (curly braces)", out)
    out = xml_of(m.command("sh ver", format="xml"))
    check("<junos-version>21.4R3-S5.4</junos-version>" in out, "command sh ver (XML)", out)
    e = rpc_error(lambda: m.command("show bogus <x>", format="text"))
    raw = etree.tostring(e.xml).decode() if e is not None else ""
    check(
        e is not None
        and e.severity == "error"
        and str(e) == "syntax error, expecting <command>: show bogus <x>",
        "unknown command: rpc-error 'syntax error, expecting <command>: show bogus <x>'",
        e and (e.severity, str(e)),
    )
    escaped = "expecting &lt;command&gt;: show bogus &lt;x&gt;</error-message>"
    check(escaped in raw, "the error-message is escaped XML text", raw)


def check_rollback(m, a):
    first, second = ("rb-%s-%s" % (n, uuid.uuid4().hex[:6]) for n in ("one", "two"))
    set_description(m, "ge-0/0/2", first)
    check("<ok/>" in xml_of(m.commit()), "commit one")
    set_description(m, "ge-0/0/2", second)
    check("<ok/>" in xml_of(m.commit()), "commit two")
    history = xml_of(m.command("show system commit", format="text"))
    latest = r"\n0 .* by %s via netconf" % re.escape(a.username)
    check(re.search(latest, history), "command show system commit", history)
    out = rpc(m, '<load-configuration rollback="1"/>')
    check("<ok/>" in out, 'load-configuration rollback="1"', out)
    check(first in descriptions(m, "candidate"), "rollback 1 is commit one, in the candidate")
    check(second in descriptions(m), "running is unchanged until the commit")
    rpc(m, "<commit/>")
    check(first in descriptions(m) and second not in descriptions(m), "commit: rollback 1 runs")
    diff = rpc(m, "<get-rollback-information><rollback>1</rollback><compare>0</compare>"
               "</get-rollback-information>")
    check("-        description %s;" % second in diff, "get-rollback-information 1 compare 0", diff)
    e = rpc_error(lambda: rpc(m, '<load-configuration rollback="49"/>'))
    what = 'load-configuration rollback="49": rpc-error Cannot find rollback file 49'
    check(e is not None and str(e) == "Cannot find rollback file 49", what, e)
    return first


def wait_for(cond, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def check_confirmed_commits(m, before):
    tag = "unconfirmed-" + uuid.uuid4().hex[:6]
    set_description(m, "ge-0/0/2", tag)
    t0 = time.time()
    check("<ok/>" in rpc(m, CONFIRMED_COMMIT), "confirmed commit, confirm-timeout 2")
    check(tag in descriptions(m), "the confirmed commit runs at once")
    back = wait_for(lambda: tag not in descriptions(m), 8)
    took = time.time() - t0
    check(back and 1.5 < took < 6, "unconfirmed: rolled back by itself (%.1fs)" % took)
    check(before in descriptions(m), "the previous configuration runs again", descriptions(m))
    tag = "confirmed-" + uuid.uuid4().hex[:6]
    set_description(m, "ge-0/0/2", tag)
    rpc(m, CONFIRMED_COMMIT)
    time.sleep(0.5)
    check("<ok/>" in rpc(m, "<commit/>"), "a plain commit within 2 s confirms it")
    time.sleep(3)
    check(tag in descriptions(m), "the confirmed commit stays after its timeout", descriptions(m))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--username", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--hostname", default="switch")
    a = ap.parse_args()
    m = connect(a)
    check_software_information(m, a)
    check_commands(m, a)
    before = check_rollback(m, a)
    check_confirmed_commits(m, before)
    m.close_session()
    print("junos: %d checks passed" % len(PASSED), flush=True)


if __name__ == "__main__":
    main()
