#!/usr/bin/env python3
"""A scripted Cisco NX-OS / IOS command line for tests. A real OpenSSH `sshd` runs it as
the ForceCommand of its test user (tests/common/netsim.rs, `Sshd`); standard library
only (Debian's /usr/bin/python3); with device_commands.py (exec commands),
device_config.py (config model, state file), device_data.py (texts) and
device_scp.py (the SCP server) beside it.

    device_shell.py --platform nxos|ios [--hostname switch] [--enable-secret S]
                    [--state PATH]     (default $NETSIM_STATE; neither: nothing kept)

What a client sees
* Login: a banner, then the prompt, with no line end after it. NX-OS: `switch# `,
  `switch(config)# `, `switch(config-if)# ` (NX-OS prints a space after `#`). IOS:
  `switch#` (or `switch>` with --enable-secret, until `enable`), `switch(config)#`,
  `switch(config-if)#`. The hostname is the running config's `hostname` line.
* Echo: like the devices, the shell echoes what it reads itself, byte by byte, with or
  without a PTY (with one it puts the terminal in raw mode so the kernel does not echo
  as well). Enter (CR, LF or CR LF) echoes as CR LF. So `show version\\n` typed at the
  NX-OS prompt comes back as `show version\\r\\n`, the output lines each ending in
  `\\r\\n`, then `switch# `. Input typed while a command runs is echoed after the next
  prompt. The enable password is not echoed. Every line end written is `\\r\\n`.
* Paging: until `terminal length 0`, output longer than the screen (24 lines, or
  `terminal length N`) stops after N-1 lines at ` --More-- `; space shows the next
  page, Enter one more line, any other key ends the output. The marker is then erased
  with `\\b` x10, 10 spaces, `\\b` x10.
* Errors: unknown words get the caret line under the offending word (counted from the
  start of the echoed prompt line), then IOS `% Invalid input detected at '^' marker.`
  / NX-OS `% Invalid command at '^' marker.`, then an empty line; IOS `% Incomplete
  command.` (no caret), NX-OS `% Incomplete command at '^' marker.`, and `% Ambiguous
  command at '^' marker.`. Words may be abbreviated (`sh run`, `conf t`, `int e1/1`).
  In config mode a line whose first word (after `no`) is not a known keyword of the
  mode gets the same caret error and changes nothing.
* Commands: `show version|running-config [interface X]|startup-config|clock|
  checkpoint summary|checkpoint NAME|tech-support|crash`, `terminal length N|width N|…`,
  `configure [terminal]`, `configure replace FILE [force]`, `copy SRC DST` between
  running-config, startup-config and files such as `flash:NAME` / `bootflash:NAME`,
  `write memory`, `dir [FS]`, NX-OS `checkpoint [NAME]`, `no checkpoint NAME`,
  `rollback running-config checkpoint NAME|file FILE`, `no terminal …`, `enable`,
  `disable`, `exit`, `logout`; `| include|exclude|begin WORD`. IOS asks
  `Destination filename [startup-config]? ` on copy and confirms `configure replace`
  without `force`; NX-OS asks nothing. Copying into running-config replaces it (no
  merge).
* Files: `flash:` and `bootflash:` are one file system, the platform's own (IOS
  `flash:`, NX-OS `bootflash:`), where `copy running-config FILE` writes the config
  as shown (IOS without `Building configuration...`) and SCP puts files; `dir` lists
  it with each file's size in bytes.
* Replacing from a file (`configure replace`, `rollback running-config file`, `copy
  FILE running-config`) reads it as config mode would take it, line by line
  (device_config.parse_config): a line whose keyword the mode does not know, an
  unknown interface type, or an indented line under a line without a sub-mode is
  refused. IOS `configure replace` applies the rest and, when a line was refused,
  ends with `The rollback configlet from the last pass is listed below:`, `********`,
  `!List of Commands:`, the refused lines (a sub-mode line under its top-level
  line), `end`, `********`, two empty lines, `Rollback aborted after 5 passes`
  instead of `Total number of passes: 1` / `Rollback Done`. NX-OS changes nothing
  when a line is refused and prints `Syntax error while parsing 'LINE'` per line
  after `Executing Rollback Patch`, then an empty line and `Rollback failed.`
  (`configure replace`: `Configure replace failed. Use 'show config-replace log
  exec' to see reasons for failure`). `copy FILE running-config` leaves such lines
  out silently.
* Config mode: lines change the running config at once (kept in the state file,
  shared by all sessions, locked); `interface`, `vlan`, `line`, `router`, `vrf` enter
  their sub-mode; `end`/Ctrl-Z back to exec, `exit` up one level, `do CMD`.
* `show tech-support` prints 36 lines over ~3 s; `show crash` prints 4 lines and
  exits the process mid-output (the channel closes, no prompt).
* An exec request (`ssh host 'show version'`) runs that one command without paging;
  `scp -t PATH` / `scp -f PATH` (`scp -O`, libssh2's scp_send / scp_recv) is the SCP
  server of device_scp.py instead (its docstring says what it accepts and answers).
"""

import argparse
import os
import re
import time

import device_data as data
import device_scp
from device_commands import Commands
from device_config import (
    BLOCKS,
    SUB,
    TOP,
    Store,
    expand,
    insert_at,
    interface_name,
    set_child,
    set_top,
    words_at,
)
from device_data import IOS, NXOS

EXEC = [  # (words, handler, modes: u = `>`, e = `#`, platforms)
    (("show", "version"), "show_version", "ue", "ni"),
    (("show", "running-config"), "show_running", "e", "ni"),
    (("show", "startup-config"), "show_startup", "e", "ni"),
    (("show", "clock"), "show_clock", "ue", "ni"),
    (("show", "checkpoint", "summary"), "show_checkpoints", "e", "n"),
    (("show", "checkpoint"), "show_checkpoint", "e", "n"),
    (("show", "tech-support"), "show_tech", "e", "ni"),
    (("show", "crash"), "show_crash", "e", "ni"),
    (("terminal", "length"), "terminal_length", "ue", "ni"),
    (("terminal",), "noop", "ue", "ni"),
    (("configure", "terminal"), "configure_terminal", "e", "ni"),
    (("configure", "replace"), "configure_replace", "e", "ni"),
    (("configure",), "configure", "e", "ni"),
    (("copy",), "copy", "e", "ni"),
    (("write", "memory"), "write_memory", "e", "ni"),
    (("dir",), "dir", "e", "ni"),
    (("checkpoint",), "checkpoint", "e", "n"),
    (("no", "checkpoint"), "no_checkpoint", "e", "n"),
    (("rollback", "running-config", "checkpoint"), "rollback", "e", "n"),
    (("rollback", "running-config", "file"), "rollback_file", "e", "n"),
    (("no", "terminal"), "noop", "ue", "n"),
    (("enable",), "enable", "ue", "ni"),
    (("disable",), "disable", "e", "i"),
    (("exit",), "exit", "ue", "ni"),
    (("logout",), "exit", "ue", "ni"),
]


class Term:
    """Byte I/O on stdin/stdout with the device's own echo and `--More--` pager."""

    def __init__(self):
        self.pending = b""
        self.skip_lf = False
        self.page = 24
        self.saved = None
        if os.isatty(0):
            import termios  # pylint: disable=import-outside-toplevel
            import tty  # pylint: disable=import-outside-toplevel

            self.saved = (termios, termios.tcgetattr(0))
            tty.setraw(0)

    def restore(self):
        if self.saved:
            termios, attrs = self.saved
            termios.tcsetattr(0, termios.TCSADRAIN, attrs)

    def write_bytes(self, b):
        try:
            while b:
                b = b[os.write(1, b) :]
        except OSError:  # the client went away
            os._exit(0)

    def write(self, text):
        self.write_bytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode())

    def _byte(self):
        if not self.pending:
            try:
                self.pending = os.read(0, 4096)
            except OSError:
                self.pending = b""
            if not self.pending:
                return None
        b, self.pending = self.pending[:1], self.pending[1:]
        return b

    def key(self):
        """The next key; LF right after CR is part of that Enter. None at EOF."""
        while True:
            b = self._byte()
            if self.skip_lf and b == b"\n":
                self.skip_lf = False
                continue
            self.skip_lf = b == b"\r"
            return b

    def read_line(self, echo=True):
        """A typed line, echoed as it comes; `\\x1a` for Ctrl-Z, None at EOF."""
        buf, out = bytearray(), bytearray()
        while True:
            if not self.pending and out:
                self.write_bytes(bytes(out))
                out.clear()
            b = self.key()
            if b is None:
                return None
            if b in (b"\r", b"\n", b"\x1a", b"\x03"):
                out += {b"\x1a": b"^Z", b"\x03": b"^C"}.get(b, b"") + b"\r\n"
                self.write_bytes(bytes(out))
                if b == b"\x03":
                    buf.clear()
                return "\x1a" if b == b"\x1a" else buf.decode("utf-8", "replace")
            if b in (b"\x7f", b"\x08"):
                if buf:
                    buf.pop()
                    out += b"\b \b" if echo else b""
            elif b >= b" ":
                buf += b
                out += b if echo else b""

    def output(self, lines, delay=0.0):
        """Writes lines (an iterable), a page at a time unless paging is off."""
        left = self.page - 1 if self.page else -1
        for line in lines:
            if left == 0:
                self.write(" --More-- ")
                k = self.key()
                if k is None:
                    os._exit(0)
                self.write("\b" * 10 + " " * 10 + "\b" * 10)
                if k == b" ":
                    left = self.page - 1
                elif k in (b"\r", b"\n"):
                    left = 1
                else:
                    return
            if delay:
                time.sleep(delay)
            self.write(line + "\n")
            left -= 1


class Shell(Commands):
    """One session: the mode, the line loop and the dispatch of commands."""

    def __init__(self, args, term, store):
        self.p, self.term, self.store = args.platform, term, store
        self.default_host = args.hostname
        self.secret = args.enable_secret
        self.mode = "user" if self.p == IOS and self.secret else "exec"
        self.context = None  # the head of the block a sub-mode edits

    def hostname(self):
        for head, _ in self.store.read()["running"]:
            if head.startswith("hostname "):
                return head.split(None, 1)[1]
        return self.default_host

    def prompt(self):
        mode = {"user": ">", "exec": "#"}.get(self.mode) or "(%s)#" % self.mode
        return self.hostname() + mode + (" " if self.p == NXOS else "")

    def error(self, column, what):
        """The caret marker under `column` of the line typed at the current prompt."""
        if what == "incomplete" and self.p == IOS:
            self.term.write("% Incomplete command.\n\n")
            return
        text = {
            "invalid": "Invalid input detected" if self.p == IOS else "Invalid command",
            "ambiguous": "Ambiguous command",
            "incomplete": "Incomplete command",
        }[what]
        self.term.write(" " * (len(self.prompt()) + column) + "^\n")
        self.term.write("%% %s at '^' marker.\n\n" % text)

    def run(self):
        self.term.write(data.BANNER[self.p])
        while True:
            self.term.write(self.prompt())
            line = self.term.read_line(echo=True)
            if line is None:
                return
            self.handle(line)

    def handle(self, line):
        if line == "\x1a":
            if self.mode.startswith("config"):
                self.mode, self.context = "exec", None
        elif line.strip() and self.mode.startswith("config"):
            self.configure_line(line)
        elif line.strip():
            self.exec_line(line)

    def match(self, words):
        """(entry, words matched) of the command table, or (None, depth or -1)."""
        depth, full = 0, []
        for entry in EXEC:
            keys, _, modes, platforms = entry
            if self.mode[0] not in modes or self.p[0] not in platforms:
                continue
            n = 0
            while n < min(len(keys), len(words)) and keys[n].startswith(words[n].lower()):
                n += 1
            depth = max(depth, n)
            if n == len(keys):
                full.append(entry)
        if not full:
            return None, depth
        longest = max(len(e[0]) for e in full)
        best = [e for e in full if len(e[0]) == longest]
        exact = [e for e in best if list(e[0]) == [w.lower() for w in words[:longest]]]
        if len(best) > 1 and len(exact) != 1:
            return None, -1
        return (exact or best)[0], longest

    def exec_line(self, line, start=0):
        """Runs an exec command; `start`: where it begins in `line` (after `do `)."""
        cmd, _, pipe = line.partition(" | ")
        words = [w for w in words_at(cmd) if w[1] >= start]
        entry, n = self.match([w for w, _ in words])
        self.words, self.n = words, n
        if entry is None:
            at = len(words) - 1 if n < 0 else min(n, len(words) - 1)
            what = "ambiguous" if n < 0 else "invalid" if n < len(words) else "incomplete"
            self.error(words[at][1] + (len(words[at][0]) + 1 if what == "incomplete" else 0), what)
            return
        keep = self.pipe_filter(cmd, pipe)
        if keep is not False:
            getattr(self, entry[1])([w for w, _ in words[n:]], keep)

    def arg_error(self, i, what):
        """The caret under argument `i` of the exec command being run (or past its end)."""
        if self.n + i < len(self.words):
            self.error(self.words[self.n + i][1], what)
        else:
            word, col = self.words[-1]
            self.error(col + len(word) + 1, what)

    def pipe_filter(self, cmd, pipe):
        """A predicate for `| include|exclude|begin WORD` (None: no pipe; False: bad)."""
        if not pipe:
            return None
        words = pipe.split(None, 1)
        how = expand(words[0], ["include", "exclude", "begin", "grep"])
        if not how or len(words) < 2:
            self.error(len(cmd) + 3, "invalid")
            return False
        pat = re.compile(words[1].strip())
        if how == "exclude":
            return lambda s: not pat.search(s)
        if how != "begin":
            return lambda s: bool(pat.search(s))
        started = [False]

        def begin(s):
            started[0] = started[0] or bool(pat.search(s))
            return started[0]

        return begin

    def configure_line(self, line):
        words = words_at(line)
        first = words[0][0].lower()
        if first == "end":
            self.mode, self.context = "exec", None
        elif first == "exit":
            self.mode, self.context = ("config", None) if self.context else ("exec", None)
        elif first == "do" and len(words) > 1:
            saved = self.mode
            self.mode = "exec"
            self.exec_line(line, words[1][1])
            self.mode = saved if self.mode == "exec" else self.mode
        else:
            at = 1 if first == "no" and len(words) > 1 else 0
            word = expand(words[at][0], SUB.get(self.mode, set())) if self.context else None
            if word:
                self.sub_line([w for w, _ in words[:at]] + [word] + [w for w, _ in words[at + 1 :]])
                return
            word = expand(words[at][0], TOP)
            if not word:
                self.error(words[at][1], "invalid")
                return
            self.top_line(words[:at] + [(word, words[at][1])] + words[at + 1 :], at)

    def sub_line(self, words):
        with self.store.update() as st:
            entry = next((e for e in st["running"] if e[0] == self.context), None)
            if entry is None:
                entry = [self.context, []]
                st["running"].insert(insert_at(st["running"], self.context), entry)
            set_child(self.p, entry[1], words)
            st["changed"] = time.time()

    def top_line(self, words, at):
        """A top-level config line; `words` (with columns), `at` the keyword's index."""
        word = words[at][0]
        if word in BLOCKS and not (word == "vlan" and "," in words[-1][0]):
            head = self.block_head(words, at)
            if head is None:
                return
            with self.store.update() as st:
                if at:  # `no interface X`
                    st["running"] = [e for e in st["running"] if e[0] != head]
                elif not any(e[0] == head for e in st["running"]):
                    st["running"].insert(insert_at(st["running"], head), [head, []])
                st["changed"] = time.time()
            self.mode, self.context = (BLOCKS[word], head) if not at else ("config", None)
            return
        with self.store.update() as st:
            set_top(st["running"], [w for w, _ in words])
            st["changed"] = time.time()
        self.mode, self.context = "config", None

    def block_head(self, words, at):
        """`interface e1/1` → `interface Ethernet1/1`; other block heads as typed.
        `words` carry their columns (for the caret); `words[at]` is the keyword."""
        rest = [w for w, _ in words[at + 1 :]]
        if not rest:
            self.error(words[at][1] + len(words[at][0]) + 1, "incomplete")
            return None
        if words[at][0] != "interface":
            return " ".join([words[at][0]] + rest)
        name = interface_name(self.p, rest)
        if not name:
            self.error(words[at + 1][1], "invalid")
            return None
        return "interface " + name


def main():
    ap = argparse.ArgumentParser(description="scripted NX-OS / IOS shell for tests")
    ap.add_argument(
        "--platform", choices=[NXOS, IOS], default=os.environ.get("NETSIM_PLATFORM", NXOS)
    )
    ap.add_argument("--hostname", default="switch")
    ap.add_argument("--enable-secret", default=None)
    ap.add_argument("--state", default=os.environ.get("NETSIM_STATE"))
    args = ap.parse_args()
    store = Store(args.state, args.platform, args.hostname)
    command = os.environ.get("SSH_ORIGINAL_COMMAND")
    device_scp.run_if_scp(command, store, args.platform)
    term = Term()
    shell = Shell(args, term, store)
    try:
        if command:
            term.page = 0
            shell.mode = "exec"
            shell.handle(command)
        else:
            shell.run()
    finally:
        term.restore()


if __name__ == "__main__":
    main()
