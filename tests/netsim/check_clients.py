"""Drive the network-device simulators with the field's own clients, to prove that they
behave like the devices those clients were written for. Run with the Python of the
venv of tests/setup/fake-switches.sh (tests/netsim_check.rs does):

    check_clients.py cisco   --port P --username U --password PW [--enable E]
    check_clients.py juniper --port P --username U --password PW
    check_clients.py nxos|ios --port P --username U --password PW --key-file K [--enable E]
    (all: [--host-key-sha256 SHA256:…] [--hostname switch] [--login-only])

`cisco` and `juniper` are tests/netsim/fake_switches.py; `nxos` and `ios` the real sshd
running tests/netsim/device_shell.py. Every check prints `ok   <what>`; the first
failure prints `FAIL <what>: <detail>` and exits 1. Lines starting `bytes ` show raw
exchanges. The last line is `<target>: N checks passed`.
"""

import argparse
import os
import re
import select
import subprocess
import sys
import time
import uuid

import paramiko

PASSED = []
# What libssh2 1.10 (the `ssh2` crate) negotiates; paramiko 5 has no SHA-1 `ssh-rsa`
# any more, so OpenSSH's client, told to use only these, checks it.
LIBSSH2 = [
    "-o",
    "KexAlgorithms=curve25519-sha256@libssh.org",
    "-o",
    "Ciphers=aes128-ctr",
    "-o",
    "MACs=hmac-sha2-256",
    "-o",
    "HostKeyAlgorithms=ssh-rsa",
    "-o",
    "PubkeyAcceptedAlgorithms=ssh-rsa",
]
NETCONF_HELLO_CLOSE = (
    '<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>'
    "urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>"
    '<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><close-session/>'
    "</rpc>]]>]]>"
)


def check(cond, what, detail=""):
    if not cond:
        print("FAIL %s: %s" % (what, detail), flush=True)
        sys.exit(1)
    PASSED.append(what)
    print("ok   " + what, flush=True)


def transport(a):
    """A paramiko transport logged in with the password."""
    t = paramiko.Transport(("127.0.0.1", a.port))
    t.start_client(timeout=15)
    t.auth_password(a.username, a.password)
    return t


def run_until(cmd, stdin, done=None, timeout=30.0):
    """Runs `cmd` with `stdin`; stops it once its stdout has `done` (bytes) or after
    `timeout`. Returns (exit code or None when stopped, stdout, stderr) as text."""
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdin.write(stdin.encode())
    proc.stdin.flush()
    out, deadline = b"", time.time() + timeout
    while time.time() < deadline and not (done and done in out):
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            out += chunk
    if done and done in out:
        proc.kill()
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    return code, out.decode(errors="replace"), proc.stderr.read().decode(errors="replace")


def openssh_command(a):
    """OpenSSH's client limited to libssh2 1.10's algorithms, logging in with the key
    when there is one (a SHA-1 `ssh-rsa` signature), else the password; and its stdin."""
    ssh = ["ssh", "-v", "-T", "-p", str(a.port), "-o", "StrictHostKeyChecking=no"]
    ssh += ["-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=15"] + LIBSSH2
    if a.key_file:
        ssh += ["-i", a.key_file, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
        ssh += ["-o", "PreferredAuthentications=publickey"]
    else:
        ssh = ["sshpass", "-p", a.password] + ssh + ["-o", "PubkeyAuthentication=no"]
        ssh += ["-o", "PreferredAuthentications=password"]
    ssh.append("%s@127.0.0.1" % a.username)
    if a.target == "juniper":
        return ssh + ["-s", "netconf"], NETCONF_HELLO_CLOSE
    if a.target in ("nxos", "ios"):
        return ssh + ["show clock"], ""  # an exec request: the shell runs the one command
    return ssh, "exit\n"


def check_libssh2_algorithms(a):
    """OpenSSH's client limited to libssh2 1.10's algorithms logs in and sees the host
    key the test expects."""
    ssh, stdin = openssh_command(a)
    # The NETCONF server keeps the session after <close-session/>: stop at its hello.
    code, out, log = run_until(ssh, stdin, b"]]>]]>" if a.target == "juniper" else None)
    fp = re.search(r"Server host key: ssh-rsa (SHA256:\S+)", log)
    print("host-key ssh-rsa %s" % (fp.group(1) if fp else "?"))
    wanted = [
        "kex: algorithm: curve25519-sha256@libssh.org",
        "kex: host key algorithm: ssh-rsa",
        "cipher: aes128-ctr MAC: hmac-sha2-256",
        "Authenticated to ",
    ]
    missing = [w for w in wanted if w not in log]
    how = "its ssh-rsa key (SHA-1 signature)" if a.key_file else "the password"
    check(
        not missing,
        "login with libssh2 1.10's algorithms (curve25519, aes128-ctr, "
        "hmac-sha2-256, ssh-rsa SHA-1 host key) and " + how,
        missing or log[-800:],
    )
    if a.host_key_sha256:
        check(
            fp and fp.group(1) == a.host_key_sha256,
            "host key fingerprint is " + a.host_key_sha256,
            fp and fp.group(1),
        )
    if a.target == "juniper":
        check("<hello" in out, "NETCONF subsystem answers with its hello", out[:300])
    if a.target in ("nxos", "ios"):
        check(
            re.search(r"\d\d:\d\d:\d\d\.\d+ UTC", out) and code == 0,
            "an exec request (`ssh host 'show clock'`) runs that command",
            out,
        )


class Raw:
    """A shell channel without a PTY (as the `ssh2` crate opens one), read to patterns."""

    def __init__(self, a, pty=False):
        self.t = transport(a)
        self.c = self.t.open_session()
        if pty:
            self.c.get_pty(width=200, height=24)
        self.c.invoke_shell()
        self.buf = b""

    def until(self, pattern, timeout=10.0):
        """Bytes read up to and including the regex `pattern` (bytes); None at EOF."""
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while not rx.search(self.buf):
            if time.time() > deadline:
                raise TimeoutError("no %r in %r" % (pattern, self.buf[-300:]))
            self.c.settimeout(max(0.1, deadline - time.time()))
            try:
                chunk = self.c.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return None
            self.buf += chunk
        m = rx.search(self.buf)
        out, self.buf = self.buf[: m.end()], self.buf[m.end() :]
        return out

    def send(self, text):
        self.c.sendall(text.encode())

    def close(self):
        self.c.close()
        self.t.close()


def show_bytes(label, b):
    print("bytes %s: %r" % (label, b if len(b) < 160 else b[:100] + b"..." + b[-50:]))


def check_cisco(a):
    check_libssh2_algorithms(a)
    r = Raw(a)
    first = b"%s>" % a.hostname.encode() if a.enable else b"%s#" % a.hostname.encode()
    got = r.until(re.escape(first))
    show_bytes("login", got)
    check(got.endswith(first), "no-PTY shell starts at the %r prompt" % first.decode())
    r.send("show version\n")
    got = r.until(re.escape(first) + b"$")
    show_bytes("show version", got)
    check(
        got.startswith(b"show version\r\n") and b"Cisco IOS Software" in got,
        "no-PTY shell echoes `show version`, answers with \\r\\n line ends, then the prompt",
    )
    r.send("exit\n")
    check(r.until(b"x^") is None, "`exit` at the first prompt closes the session")
    r.close()
    check_netmiko_ios(a, "FastEthernet0/3")


def netmiko_connect(a, device_type):
    from netmiko import ConnectHandler  # pylint: disable=import-outside-toplevel

    params = dict(
        device_type=device_type,
        host="127.0.0.1",
        port=a.port,
        username=a.username,
        allow_agent=False,
        ssh_strict=False,
        timeout=20,
        conn_timeout=20,
    )
    if a.key_file:
        params.update(use_keys=True, key_file=a.key_file)
    else:
        params.update(password=a.password)
    if a.enable:
        params["secret"] = a.enable
    return ConnectHandler(**params)


def check_netmiko_ios(a, interface):
    tag = "set-by-netmiko-" + uuid.uuid4().hex[:8]
    conn = netmiko_connect(a, "cisco_ios")
    check(
        conn.find_prompt() in (a.hostname + ">", a.hostname + "#"),
        "netmiko cisco_ios logs in (terminal width/length accepted)",
        conn.find_prompt(),
    )
    conn.enable()
    check(conn.check_enable_mode(), "netmiko enable() reaches enable mode")
    run = conn.send_command("show running-config")
    check("hostname " + a.hostname in run, "netmiko show running-config", run[:300])
    out = conn.send_config_set(["interface " + interface, "description " + tag])
    check(
        not conn.check_config_mode(), "netmiko send_config_set leaves config mode with `end`", out
    )
    run = conn.send_command("show running-config")
    check("description " + tag in run, "the interface description changed", run[-600:])
    ver = conn.send_command("show version")
    check("Cisco IOS Software" in ver, "netmiko show version", ver[:200])
    if a.target == "ios":
        check("[OK]" in conn.save_config(), "netmiko save_config (`write mem`)")
        check_ios_replace(a, conn, interface, tag)
    conn.disconnect()


def check_ios_replace(a, conn, interface, tag):
    out = conn.send_command(
        "copy running-config flash:netsim.cfg", expect_string=r"Destination filename"
    )
    out += conn.send_command("\n", expect_string=r"#")
    check("bytes copied" in out, "copy running-config flash:netsim.cfg (with its prompt)", out)
    conn.send_config_set(["interface " + interface, "description changed-after-copy"])
    out = conn.send_command("configure replace flash:netsim.cfg force")
    check("Rollback Done" in out, "configure replace flash:netsim.cfg force", out)
    run = conn.send_command("show running-config")
    check("description " + tag in run, "configure replace restored the description", run[-600:])
    bad = conn.send_command("show bogus")
    check("% Invalid input detected at '^' marker." in bad, "unknown command gets IOS's caret", bad)


def xml_of(reply):
    """The XML of an ncclient reply (junos' device handler returns NCElement)."""
    return reply.xml if hasattr(reply, "xml") else str(reply)


def check_juniper(a):
    from ncclient import manager  # pylint: disable=import-outside-toplevel

    check_libssh2_algorithms(a)
    tag = "set-by-ncclient-" + uuid.uuid4().hex[:8]
    m = manager.connect(
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
    caps = list(m.server_capabilities)
    check(
        any("candidate" in c for c in caps), "ncclient NETCONF hello (candidate capability)", caps
    )
    run = xml_of(m.get_config("running"))
    check("<configuration" in run, "ncclient get_config(running)", run[:300])
    cfg = (
        "<config><configuration><interfaces><interface><name>ge-0/0/1</name>"
        "<description>%s</description></interface></interfaces></configuration></config>" % tag
    )
    ok = xml_of(m.edit_config(target="candidate", config=cfg))
    check("<ok/>" in ok, "ncclient edit_config(candidate)", ok)
    check(tag not in xml_of(m.get_config("running")), "the edit is not running before commit")
    check(tag in xml_of(m.get_config("candidate")), "the edit is in the candidate")
    ok = xml_of(m.commit())
    check("<ok/>" in ok, "ncclient commit", ok)
    check(tag in xml_of(m.get_config("running")), "the committed description is running")
    m.close_session()


def check_device_raw(a):
    """The scripted shell over a channel without a PTY: echo, prompt, errors, paging."""
    prompt = (a.hostname + ("# " if a.target == "nxos" else "#")).encode()
    r = Raw(a)
    login = r.until(re.escape(prompt) + b"$")
    show_bytes("login", login)
    check(login.endswith(prompt), "no-PTY shell: banner then the %r prompt" % prompt.decode())
    r.send("show version\n")
    got = r.until(b"--More-- |" + re.escape(prompt) + b"$")
    show_bytes("show version", got)
    want = b"NXOS: version 9.3(8)" if a.target == "nxos" else b"Cisco IOS Software"
    check(
        got.startswith(b"show version\r\n") and want in got,
        "`show version` is echoed once, then answered with \\r\\n line ends",
    )
    while got.endswith(b"--More-- "):
        r.send(" ")
        got = r.until(b"--More-- |" + re.escape(prompt) + b"$")
    check(got.endswith(prompt), "the --More-- pager continues on space up to the prompt")
    r.send("show running-config\n")
    got = r.until(b"--More-- $")
    check(
        got.count(b"\r\n") == 24,
        "paging on: 23 lines and --More-- on a 24-line screen",
        got.count(b"\r\n"),
    )
    r.send("q")
    got = r.until(re.escape(prompt) + b"$")
    check(not got.strip(b"\x08 ").startswith(b"!"), "q ends the paged output")
    r.send("terminal length 0\nshow bogus\n")
    got = r.until(b"marker\\.\r\n\r\n" + re.escape(prompt) + b"$")
    show_bytes("show bogus", got)
    message = b"Invalid command" if a.target == "nxos" else b"Invalid input detected"
    check(
        b" " * (len(prompt) + 5) + b"^\r\n% " + message in got,
        "unknown word: caret under it and %s" % message.decode(),
    )
    t0 = time.time()
    r.send("show tech-support\n")
    got = r.until(re.escape(prompt) + b"$", timeout=15)
    check(
        time.time() - t0 > 2.5 and got.count(b"\r\n") > 30,
        "show tech-support is slow (%.1fs)" % (time.time() - t0),
    )
    r.send("show crash\n")
    got = r.until(b"x^", timeout=10)
    check(
        got is None and r.c.recv_exit_status() != 0 and prompt not in r.buf,
        "show crash drops the session mid-output",
        r.buf[-200:],
    )
    r.close()
    r = Raw(a, pty=True)
    r.until(re.escape(prompt) + b"$")
    r.send("show clock\n")
    got = r.until(re.escape(prompt) + b"$")
    check(got.count(b"show clock") == 1, "with a PTY the command is echoed once", got)
    r.close()


def check_nxos(a):
    check_libssh2_algorithms(a)
    check_device_raw(a)
    tag = "set-by-netmiko-" + uuid.uuid4().hex[:8]
    conn = netmiko_connect(a, "cisco_nxos")
    check(conn.find_prompt() == a.hostname + "#", "netmiko cisco_nxos logs in", conn.find_prompt())
    ver = conn.send_command("show version")
    check(
        "NXOS: version 9.3(8)" in ver and "Device name: " + a.hostname in ver,
        "netmiko show version",
    )
    run = conn.send_command("show running-config")
    check(
        "!Time:" in run and "interface Ethernet1/5" in run, "netmiko show running-config (!Time:)"
    )
    conn.send_config_set(["interface Ethernet1/5", "description " + tag])
    run = conn.send_command("show running-config interface Ethernet1/5")
    check("description " + tag in run, "netmiko send_config_set changed the description", run)
    check(
        "Copy complete" in conn.save_config(),
        "netmiko save_config (copy running-config startup-config)",
    )
    check("Done" in conn.send_command("checkpoint netsim-check"), "checkpoint netsim-check")
    check("netsim-check" in conn.send_command("show checkpoint summary"), "show checkpoint summary")
    conn.send_config_set(["interface Ethernet1/5", "description changed-after-checkpoint"])
    out = conn.send_command("rollback running-config checkpoint netsim-check", read_timeout=30)
    check("Rollback completed successfully" in out, "rollback running-config checkpoint", out)
    run = conn.send_command("show running-config interface Ethernet1/5")
    check("description " + tag in run, "the rollback restored the description", run)
    conn.send_command("no checkpoint netsim-check")
    conn.disconnect()
    conn = netmiko_connect(a, "cisco_nxos")
    start = conn.send_command("show startup-config")
    check("description " + tag in start, "a new session sees the saved config (state file)")
    conn.disconnect()


def check_ios(a):
    check_libssh2_algorithms(a)
    check_device_raw_ios_enable(a)
    check_netmiko_ios(a, "GigabitEthernet0/4")


def check_device_raw_ios_enable(a):
    if not a.enable:
        check_device_raw(a)
        return
    r = Raw(a)
    r.until(re.escape(a.hostname.encode()) + b">$")
    r.send("enable\n")
    r.until(b"Password: $")
    r.send(a.enable + "\n")
    got = r.until(re.escape(a.hostname.encode()) + b"#$")
    check(a.enable.encode() not in got, "IOS enable: the secret is not echoed", got)
    r.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", choices=["cisco", "juniper", "nxos", "ios"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--username", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--enable", default=None)
    ap.add_argument("--key-file", default=None)
    ap.add_argument("--hostname", default="switch")
    ap.add_argument("--host-key-sha256", default=None)
    ap.add_argument("--login-only", action="store_true", help="only the libssh2-algorithms login")
    a = ap.parse_args()
    if a.login_only:
        check_libssh2_algorithms(a)
    else:
        {"cisco": check_cisco, "juniper": check_juniper, "nxos": check_nxos, "ios": check_ios}[
            a.target
        ](a)
    print("%s: %d checks passed" % (a.target, len(PASSED)), flush=True)


if __name__ == "__main__":
    main()
