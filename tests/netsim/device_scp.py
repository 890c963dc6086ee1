"""The SCP server of tests/netsim/device_shell.py (IOS `ip scp server enable`, NX-OS's
SCP server): the legacy rcp protocol that `scp -O` and libssh2's scp_send/scp_recv
speak, over the exec command `scp -t PATH` (the client sends files) or `scp -f PATH`
(it reads them), which sshd hands the ForceCommand in SSH_ORIGINAL_COMMAND. Files go
to the device's state (device_config.py: `files`), where `dir`, `copy` and
`configure replace` find them. Standard library only.

Paths: `flash:NAME`, `bootflash:NAME`, `flash:/NAME`, `bootflash:/NAME` or a bare
`NAME`, all on the platform's own file system (IOS `flash:`, NX-OS `bootflash:`); the
file system itself (`flash:`, `bootflash:/`, `.`, nothing) as a directory. Anything
else (`..`, another file system, a sub-directory) is `No such file or directory`.
Options: `-t`/`-f` (one of them), `-v`, `-p`, `-d`, `-r`, `--`, alone or together
(`-pt`); arguments may be shell-quoted (libssh2 sends `scp -t 'flash:x.cfg'`).

Sink (`-t`): sends `\\0`; then per record: `T<mtime> <usec> <atime> <usec>` and `E`
get `\\0`; `C<mode> <size> <name>` gets `\\0`, the server reads exactly size bytes,
then the client's `\\0` or the end of its input (libssh2's callers send EOF instead),
stores the file under the target (or NAME when the target is a directory) and
answers `\\0`. A bad path answers the `C` record with `\\x01scp: <path>: No such file
or directory\\n`, a size over 4 MiB with `\\x01scp: <path>: File too large\\n` (the
client then sends no bytes) and the server reads on. `-d` with a file target answers
`\\x01scp: <path>: Not a directory\\n` instead of the first `\\0` and exits; a `D`
record or garbage gets `\\x02scp: protocol error: ...\\n` and the server exits. Exit
status (at the client's EOF) 0 when every file was stored, else 1.

Source (`-f`): waits for the client's `\\0`; per path: with `-p` sends `T<created> 0
<created> 0\\n` and waits for `\\0`; sends `C0644 <size> <name>\\n` (name: the path
after its last `/`, as OpenSSH does, so that its client's name check passes), waits
for `\\0`, sends the bytes and `\\0`, waits for `\\0` (or EOF). A missing file answers
`\\x01scp: <path>: No such file or directory\\n` (the file system itself: `...: not
a regular file`); exit status 0 when every file was sent, else 1.

Any other scp command line (no or both of `-t`/`-f`, another option, no path):
`usage: scp [-dprv] -f|-t path ...` on stderr, exit status 1. The server is always
on (no `ip scp server enable` needed).
"""

import os
import re
import shlex
import sys

from device_config import file_bytes, put_file, scp_path

MAX_SIZE = 4 * 1024 * 1024
OPTIONS = set("tfvpdr")


class Lost(Exception):
    """The client went away mid-transfer."""


class Pipe:
    """Binary reads from stdin and writes to stdout."""

    def __init__(self):
        self.buf = b""
        self.eof = False

    def _fill(self):
        if not self.eof:
            chunk = os.read(0, 65536)
            self.eof = not chunk
            self.buf += chunk

    def read(self, n):
        """Up to `n` bytes, fewer only at EOF."""
        while len(self.buf) < n and not self.eof:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self, limit=4096):
        """A line without its `\\n`; None at EOF; Lost when it is cut off."""
        while b"\n" not in self.buf and not self.eof and len(self.buf) <= limit:
            self._fill()
        if not self.buf and self.eof:
            return None
        line, nl, self.buf = self.buf.partition(b"\n")
        if not nl:
            raise Lost()
        return line

    def write(self, b):
        try:
            while b:
                b = b[os.write(1, b) :]
        except OSError as e:
            raise Lost() from e

    def ack(self):
        self.write(b"\0")

    def error(self, message, fatal=False):
        self.write(b"\x02" if fatal else b"\x01")
        self.write(b"scp: " + message.encode("utf-8", "replace") + b"\n")

    def response(self, eof_ok=False):
        """The client's answer: True for `\\0` (or EOF when `eof_ok`), False for an
        error message; Lost at EOF or on a fatal error."""
        b = self.read(1)
        if b == b"\0" or (not b and eof_ok):
            return True
        if b == b"\x01":
            self.line()
            return False
        raise Lost()


def parse(command):
    """(`t` or `f`, option letters, paths) of an `scp` exec command; None for another
    command; ValueError for an scp command we cannot serve."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if not words or os.path.basename(words[0]) != "scp":
        return None
    flags, i = set(), 1
    while i < len(words) and words[i].startswith("-") and words[i] != "-":
        i += 1
        if words[i - 1] == "--":
            break
        flags |= set(words[i - 1][1:])
    mode = flags & {"t", "f"}
    if len(mode) != 1 or flags - OPTIONS or not words[i:]:
        raise ValueError("usage: scp [-dprv] -f|-t path ...")
    return mode.pop(), flags, words[i:]


class Server:
    """One scp run on the device's Store."""

    def __init__(self, store, platform, flags):
        self.store, self.p, self.flags = store, platform, flags
        self.io = Pipe()
        self.errors = 0

    def fail(self, message):
        self.io.error(message)
        self.errors += 1

    def sink(self, target):
        where = scp_path(self.p, target)
        if "d" in self.flags and where and where[1]:
            self.io.error("%s: Not a directory" % target)
            return 1
        self.io.ack()
        while True:
            line = self.io.line()
            if line is None:
                return 1 if self.errors else 0
            if not self.record(line, target, where):
                return 1

    def record(self, line, target, where):
        """Handles one sink record; False when the transfer cannot go on."""
        kind = line[:1]
        if kind in (b"\x01", b"\x02"):  # the client's own error
            self.errors += 1
            return kind == b"\x01"
        if kind == b"E" or re.fullmatch(rb"T\d+ \d+ \d+ \d+", line):
            self.io.ack()
            return True
        m = re.fullmatch(rb"C([0-7]{4}) (\d+) ([^/]+)", line)
        if not m or m.group(3) in (b".", b".."):
            what = {b"D": "directories are not supported", b"T": "bad time record"}.get(
                kind, "expected control record"
            )
            self.io.error("protocol error: " + what, True)
            return False
        name = m.group(3).decode("utf-8", "replace")
        return self.receive(int(m.group(2)), target, where, name)

    def file_for(self, target, where, name):
        """(the state's key or None, the path errors name) of a `C` record's file."""
        if where is None or where[1]:
            return (where[0] + where[1] if where else None), target
        inside = scp_path(self.p, where[0] + name)
        return (inside[0] + inside[1] if inside and inside[1] else None), where[0] + name

    def receive(self, size, target, where, name):
        """A `C` record's bytes into the file; False when the client went away."""
        key, shown = self.file_for(target, where, name)
        if key is None:
            self.fail("%s: No such file or directory" % shown)
            return True
        if size > MAX_SIZE:
            self.fail("%s: File too large" % shown)
            return True
        self.io.ack()
        data = self.io.read(size)
        if len(data) < size:
            return False
        if not self.io.response(eof_ok=True):
            self.errors += 1
            return True
        with self.store.update() as st:
            put_file(st, key, data)
        self.io.ack()
        return True

    def source(self, paths):
        if self.io.read(1) != b"\0":
            return 1
        for path in paths:
            self.send(path)
        return 1 if self.errors else 0

    def send(self, path):
        where = scp_path(self.p, path)
        found = self.store.read()["files"].get(where[0] + where[1]) if where else None
        if found is None:
            what = "not a regular file" if where and not where[1] else "No such file or directory"
            self.fail("%s: %s" % (path, what))
            return
        data = file_bytes(found)
        if "p" in self.flags:
            stamp = int(found["created"])
            self.io.write(b"T%d 0 %d 0\n" % (stamp, stamp))
            if not self.io.response():
                self.errors += 1
                return
        name = path.rstrip("/").rsplit("/", 1)[-1]
        self.io.write(b"C0644 %d %s\n" % (len(data), name.encode()))
        if not self.io.response():
            self.errors += 1
            return
        self.io.write(data + b"\0")
        if not self.io.response(eof_ok=True):
            self.errors += 1


def serve(command, store, platform):
    """Runs the scp exec `command`; returns the exit status."""
    try:
        mode, flags, paths = parse(command)
    except ValueError as e:
        sys.stderr.write("%s\n" % e)
        return 1
    if os.isatty(0):
        import tty  # pylint: disable=import-outside-toplevel

        tty.setraw(0)
    server = Server(store, platform, flags)
    try:
        if mode == "f":
            return server.source(paths)
        if len(paths) != 1:
            server.io.error("ambiguous target")
            return 1
        return server.sink(paths[0])
    except Lost:
        return 1


def is_scp(command):
    try:
        return parse(command) is not None
    except ValueError:
        return True


def run_if_scp(command, store, platform):
    """Serves `command` and exits when it is an scp command; returns otherwise."""
    if command and is_scp(command):
        sys.exit(serve(command, store, platform))
