"""Drive the SCP server of tests/netsim/device_shell.py (device_scp.py) with OpenSSH's
client in legacy mode (`scp -O`) and with the raw rcp exchanges libssh2's scp_send /
scp_recv make, then load the copied file as the running config the way mcpd does
(IOS `configure replace flash:FILE force`, NX-OS `rollback running-config file
bootflash:FILE`) in a netmiko session. Run with the Python of the venv of
tests/setup/fake-switches.sh (tests/netsim_check.rs does):

    check_scp.py nxos|ios --port P --username U --password PW --key-file K
                 [--enable E] [--hostname switch]

Output as check_clients.py's (`ok   <what>`, `FAIL <what>: <detail>`, `bytes ...`);
the last line is `<target> scp: N checks passed`.
"""

import argparse
import os
import re
import subprocess
import tempfile
import uuid

from check_clients import PASSED, check, netmiko_connect, show_bytes, transport

IFACE = {"nxos": "interface Ethernet1/3", "ios": "interface GigabitEthernet0/3"}
# A top-level line of the factory config that the candidate leaves out.
DROPPED = {"nxos": "ntp server 192.0.2.123 use-vrf management", "ios": "ip domain-name lab.example"}
REPLACE = {
    "nxos": ("rollback running-config file bootflash:%s", "Rollback completed successfully."),
    "ios": ("configure replace flash:%s force", "Rollback Done"),
}


def scp(a, src, dst):
    """OpenSSH's scp in legacy (rcp) mode with the test key: (exit code, stderr)."""
    cmd = ["scp", "-O", "-i", a.key_file, "-P", str(a.port)]
    cmd += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    cmd += ["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]
    remote = "%s@127.0.0.1:" % a.username
    cmd += [src.replace("remote:", remote), dst.replace("remote:", remote)]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return p.returncode, p.stderr.decode(errors="replace")


def candidate(a, running, tag):
    """The running config as shown, with a description on one interface and one
    top-level line left out."""
    lines = [s for s in running.splitlines() if s.strip() != DROPPED[a.target]]
    at = lines.index(IFACE[a.target]) + 1
    indent = "  " if a.target == "nxos" else " "
    return "\n".join(lines[:at] + [indent + "description " + tag] + lines[at:]) + "\n"


def check_scp_upload(a, conn, work, tag):
    running = conn.send_command("show running-config")
    check(IFACE[a.target] in running, "netmiko show running-config", running[:300])
    text = candidate(a, running, tag).encode()
    local = os.path.join(work, "cand.cfg")
    with open(local, "wb") as f:
        f.write(text)
    code, err = scp(a, local, "remote:flash:cand.cfg")
    check(code == 0, "scp -O FILE netsim@127.0.0.1:flash:cand.cfg", err)
    listing = conn.send_command("dir")
    check(
        re.search(r"^\s+%d\s+.*\s+cand\.cfg$" % len(text), listing, re.M),
        "dir lists cand.cfg with its %d bytes" % len(text),
        listing,
    )
    return text


def check_replace(a, conn, tag):
    command, done = REPLACE[a.target]
    out = conn.send_command(command % "cand.cfg", read_timeout=30)
    check(done in out, command % "cand.cfg", out)
    run = conn.send_command("show running-config")
    check("description " + tag in run, "show running-config has the candidate's line", run)
    check(DROPPED[a.target] not in run, "the line the candidate left out is gone (a replace)")


def check_read_back(a, work, text):
    fs = "bootflash:" if a.target == "nxos" else "flash:/"
    back = os.path.join(work, "back.cfg")
    code, err = scp(a, "remote:%scand.cfg" % fs, back)
    with open(back, "rb") as f:
        got = f.read() if code == 0 else b""
    check(code == 0 and got == text, "scp -O netsim@127.0.0.1:%scand.cfg reads it back" % fs, err)


def check_refusals(a, work):
    small = os.path.join(work, "small.cfg")
    with open(small, "wb") as f:
        f.write(b"hostname x\n")
    for target in ("flash:../evil.cfg", "disk0:evil.cfg", "sub/evil.cfg"):
        code, err = scp(a, small, "remote:" + target)
        want = "%s: No such file or directory" % target
        check(code != 0 and want in err, "scp to %s is refused: %s" % (target, want), err)
    big = os.path.join(work, "big.bin")
    with open(big, "wb") as f:
        f.write(b"\0" * (4 * 1024 * 1024 + 1))
    code, err = scp(a, big, "remote:flash:big.bin")
    check(code != 0 and "flash:big.bin: File too large" in err, "over 4 MiB: File too large", err)
    code, err = scp(a, "remote:flash:nosuch.cfg", os.path.join(work, "x"))
    check(code != 0 and "No such file or directory" in err, "scp from a missing file", err)


class Exec:
    """An exec channel (`scp -t|-f PATH`) as libssh2 opens one."""

    def __init__(self, a, command):
        self.t = transport(a)
        self.c = self.t.open_session()
        self.c.settimeout(15)
        self.c.exec_command(command)

    def read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.c.recv(n - len(out))
            if not chunk:
                break
            out += chunk
        return out

    def line(self):
        out = b""
        while not out.endswith(b"\n"):
            chunk = self.c.recv(1)
            if not chunk:
                break
            out += chunk
        return out

    def finish(self):
        """Sends EOF (as libssh2's callers do, instead of the last `\\0`); the rest of
        the output and the exit status."""
        self.c.shutdown_write()
        rest = self.read(1 << 16)
        code = self.c.recv_exit_status()
        self.c.close()
        self.t.close()
        return rest, code


def check_libssh2_send(a, data):
    x = Exec(a, "scp -pt 'flash:raw.cfg'")
    got = x.read(1)
    x.c.sendall(b"T1700000000 0 1700000000 0\n")
    got += x.read(1)
    x.c.sendall(b"C0644 %d raw.cfg\n" % len(data))
    got += x.read(1)
    x.c.sendall(data)
    rest, code = x.finish()
    show_bytes("scp -pt answers", got + rest)
    check(
        got + rest == b"\0\0\0\0" and code == 0,
        "libssh2's scp_send: scp -pt 'flash:raw.cfg', T and C records, bytes, EOF",
        (got + rest, code),
    )
    x = Exec(a, "scp -t 'flash:../raw.cfg'")
    got = x.read(1)
    x.c.sendall(b"C0644 %d raw.cfg\n" % len(data))
    got += x.line()
    rest, code = x.finish()
    want = b"\0\x01scp: flash:../raw.cfg: No such file or directory\n"
    check(got + rest == want and code == 1, "the refusal's exact bytes, exit 1", (got, code))


def check_libssh2_recv(a, data):
    x = Exec(a, "scp -pf 'bootflash:raw.cfg'")
    x.c.sendall(b"\0")
    times = x.line()
    x.c.sendall(b"\0")
    header = x.line()
    x.c.sendall(b"\0")
    body = x.read(len(data) + 1)
    rest, code = x.finish()
    show_bytes("scp -pf sends", times + header + body)
    check(
        re.fullmatch(rb"T\d+ 0 \d+ 0\n", times)
        and header == b"C0644 %d bootflash:raw.cfg\n" % len(data)
        and body == data + b"\0"
        and not rest
        and code == 0,
        "libssh2's scp_recv: scp -pf 'bootflash:raw.cfg' sends T, C, the bytes and \\0",
        (times, header, body[-20:], rest, code),
    )


def check_bad_candidate(a, conn, work, tag):
    bad = os.path.join(work, "bad.cfg")
    with open(bad, "w", encoding="utf-8") as f:
        f.write("hostname %s\nbogus-keyword here\n" % a.hostname)
        f.write("%s\n description from-bad-file\n" % IFACE[a.target])
    code, err = scp(a, bad, "remote:bad.cfg")
    check(code == 0, "scp -O FILE netsim@127.0.0.1:bad.cfg (the default file system)", err)
    command, _ = REPLACE[a.target]
    out = conn.send_command(command % "bad.cfg", read_timeout=30)
    if a.target == "nxos":
        want = ["Syntax error while parsing 'bogus-keyword here'", "Rollback failed."]
    else:
        want = ["!List of Commands:\nbogus-keyword here\nend", "Rollback aborted after 5 passes"]
    check(all(w in out for w in want), "a candidate with a bad line: " + " / ".join(want), out)
    run = conn.send_command("show running-config")
    applied = "description from-bad-file" in run and "description " + tag not in run
    if a.target == "nxos":
        check(not applied, "NX-OS left the running config as it was (atomic)", run)
    else:
        check(applied, "IOS applied the candidate's other lines", run)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", choices=["nxos", "ios"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--username", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--enable", default=None)
    ap.add_argument("--hostname", default="switch")
    a = ap.parse_args()
    tag = "set-by-scp-" + uuid.uuid4().hex[:8]
    conn = netmiko_connect(a, "cisco_nxos" if a.target == "nxos" else "cisco_ios")
    conn.enable()
    with tempfile.TemporaryDirectory() as work:
        text = check_scp_upload(a, conn, work, tag)
        check_replace(a, conn, tag)
        check_read_back(a, work, text)
        check_refusals(a, work)
        check_libssh2_send(a, text)
        check_libssh2_recv(a, text)
        check_bad_candidate(a, conn, work, tag)
    conn.disconnect()
    print("%s scp: %d checks passed" % (a.target, len(PASSED)), flush=True)


if __name__ == "__main__":
    main()
