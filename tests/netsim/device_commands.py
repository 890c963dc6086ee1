"""The exec-mode commands of tests/netsim/device_shell.py (a mixin of its Shell: each
handler gets the words after the command and the `|` filter, or None). Standard
library only.
"""

import copy as copying
import os
import time

import device_data as data
from device_config import (
    DEFAULT_FS,
    config_text,
    file_bytes,
    file_key,
    file_system,
    parse_config,
    put_file,
    saved_text,
)
from device_data import IOS, NXOS

NXOS_COPY_DONE = [
    "[########################################] 100%",
    "Copy complete, now saving to disk (please wait)...",
    "Copy complete.",
]
ROLLBACK_DONE = [
    "Note: Applying config parallelly may fail Rollback verification",
    "Collecting Running-Config",
    "#Generating Rollback Patch",
    "Executing Rollback Patch",
    "#Generating Running-config for verification",
    "Generating Patch for verification",
    "Verification is Successful.",
    "",
]
NXOS_REPLACE_DONE = [
    "Version match between running and replace config",
    "Collecting Running-Config",
    "Converting to checkpoint format",
    "Generating Rollback Patch",
    "Executing Rollback Patch",
    "Generating Running-config for verification",
    "Generating Patch for verification",
    "Configure replace completed successfully!!!",
]
NXOS_REPLACE_FAILED = (
    "Configure replace failed. Use 'show config-replace log exec' to see reasons for failure"
)
REPLACE_WARNING = """This will apply all necessary additions and deletions
to replace the current running configuration with the
contents of the specified configuration file, which is
assumed to be a complete configuration, not a partial
configuration. Enter Y if you are sure you want to proceed. ? [no]: """


def which_config(word):
    """`run`, `running-config`, `system:running-config` → `running`; start… → `startup`."""
    word = (
        word.lower().split(":", 1)[-1]
        if word.lower().startswith(("system:", "nvram:start"))
        else word.lower()
    )
    for name in ("running-config", "startup-config"):
        if len(word) >= 3 and name.startswith(word):
            return name.split("-")[0]
    return None


def syntax_errors(refused):
    """NX-OS's words for the lines of a candidate it would refuse."""
    return ["Syntax error while parsing '%s'" % line for _, line in refused]


def ios_replace_lines(refused):
    """What IOS's `configure replace` ends with: done, or the lines that kept failing
    (a refused sub-mode line under its top-level line) and that it gave up."""
    if not refused:
        return ["Total number of passes: 1", "Rollback Done", ""]
    lines, last = [], None
    for top, line in refused:
        if top is not None and top != last:
            lines.append(top)
        lines.append(line if top is None else " " + line)
        last = line if top is None else top
    return (
        ["The rollback configlet from the last pass is listed below:", "********"]
        + ["!List of Commands:"]
        + lines
        + ["end", "********", "", "", "Rollback aborted after 5 passes"]
    )


class Commands:
    """Exec handlers; `self` is device_shell.Shell (term, store, p, mode, …)."""

    def show(self, lines, keep, delay=0.0):
        self.term.output([s for s in lines if keep(s)] if keep else lines, delay)

    def noop(self, args, keep):
        pass

    def show_version(self, args, keep):
        up = data.uptime_parts(time.time() - self.store.read()["booted"])
        text = data.NXOS_VERSION if self.p == NXOS else data.IOS_VERSION
        self.show(text.format(hostname=self.hostname(), **up).split("\n"), keep)

    def show_running(self, args, keep):
        st = self.store.read()
        if args and "interface".startswith(args[0].lower()) and len(args) > 1:
            head = self.block_head([("interface", 0)] + self.words[self.n + 1 :], 0)
            if head is None:
                return
            st = dict(st, running=[e for e in st["running"] if e[0] == head])
        self.show(config_text(self.p, st), keep)

    def show_startup(self, args, keep):
        self.show(config_text(self.p, self.store.read(), startup=True), keep)

    def show_clock(self, args, keep):
        t = time.time()
        stamp = time.strftime("%H:%M:%S", time.gmtime(t)) + ".%03d UTC " % (t * 1000 % 1000)
        lines = [stamp + time.strftime("%a %b %d %Y", time.gmtime(t))]
        self.show(lines + (["Time source is NTP"] if self.p == NXOS else []), keep)

    def show_checkpoints(self, args, keep):
        lines = ["User Checkpoint Summary", "-" * 80]
        cps = self.store.read()["checkpoints"]
        for n, (name, cp) in enumerate(sorted(cps.items(), key=lambda kv: kv[1]["created"]), 1):
            size = len("\n".join(config_text(self.p, dict(self.store.read(), running=cp["tree"]))))
            lines += [
                "%d) %s:" % (n, name),
                "Created by " + cp["user"],
                "Created at "
                + time.strftime("%a, %H:%M:%S %d %b %Y", time.localtime(cp["created"])),
                "Size is {:,} bytes".format(size),
                "Description: None",
                "",
            ]
        self.show(lines, keep)

    def show_checkpoint(self, args, keep):
        st = self.store.read()
        cp = st["checkpoints"].get(args[0]) if args else None
        if cp is None:
            self.term.write("Checkpoint %s does not exist\n" % (args[0] if args else ""))
            return
        self.show(config_text(self.p, dict(st, running=cp["tree"])), keep)

    def show_tech(self, args, keep):
        self.show(data.tech_support_lines(self.hostname()), keep, delay=0.08)

    def show_crash(self, args, keep):
        for line in data.CRASH_LINES:
            self.term.write(line + "\n")
            time.sleep(0.05)
        self.term.restore()
        os._exit(1)

    def terminal_length(self, args, keep):
        if not args or not args[0].isdigit() or int(args[0]) > 511:
            self.arg_error(0, "invalid" if args else "incomplete")
            return
        self.term.page = int(args[0])

    def configure(self, args, keep):
        if args:
            self.arg_error(0, "invalid")
            return
        if self.p == IOS:
            self.term.write("Configuring from terminal, memory, or network [terminal]? ")
            if self.term.read_line() is None:
                os._exit(0)
        self.configure_terminal(args, keep)

    def configure_terminal(self, args, keep):
        self.term.write("Enter configuration commands, one per line.  End with CNTL/Z.\n")
        self.mode, self.context = "config", None

    def configure_replace(self, args, keep):
        text = self.file_arg(args, "%%Error opening %s (File not found)")
        if text is None:
            return
        if self.p == IOS and "force" not in [a.lower() for a in args[1:]]:
            self.term.write(REPLACE_WARNING)
            answer = self.term.read_line()
            if answer is None:
                os._exit(0)
            if not answer.strip().lower().startswith("y"):
                return
        tree, refused = parse_config(self.p, text)
        if self.p == IOS:  # IOS applies what it can, NX-OS all or nothing
            self.replace_running(tree)
            self.show(ios_replace_lines(refused), None)
        elif refused:
            self.show(NXOS_REPLACE_DONE[:5] + syntax_errors(refused) + [NXOS_REPLACE_FAILED], None)
        else:
            self.replace_running(tree)
            self.show(NXOS_REPLACE_DONE, None)

    def rollback_file(self, args, keep):
        """NX-OS `rollback running-config file FILE`: the file becomes the running
        config (atomic: nothing changes when a line is refused)."""
        text = self.file_arg(args, "ERROR: File %s does not exist\nRollback failed.")
        if text is None:
            return
        tree, refused = parse_config(self.p, text)
        if refused:
            self.show(ROLLBACK_DONE[:4] + syntax_errors(refused) + ["", "Rollback failed."], None)
            return
        self.replace_running(tree)
        self.show(ROLLBACK_DONE + ["Rollback completed successfully."], None)

    def file_arg(self, args, missing):
        """The text of the file the first argument names; None after the caret error,
        or `missing` (with the argument), when there is none."""
        key = file_key(self.p, args[0]) if args else None
        if key is None:
            self.arg_error(0, "invalid" if args else "incomplete")
            return None
        found = self.store.read()["files"].get(key)
        if found is None:
            self.term.write(missing % args[0] + "\n")
            return None
        return file_bytes(found).decode("utf-8", "replace")

    def replace_running(self, tree):
        with self.store.update() as st:
            st["running"] = copying.deepcopy(tree)
            st["changed"] = time.time()

    def copy(self, args, keep):
        if len(args) < 2:
            self.arg_error(len(args), "incomplete")
            return
        src, dst = args[0], args[1]
        src_cfg, dst_cfg, dst_file = which_config(src), which_config(dst), file_key(self.p, dst)
        if src_cfg == "running" and dst_cfg == "startup":
            if self.p == IOS and self.ask_filename("startup-config") is None:
                return
            self.save_startup()
        elif src_cfg == "running" and dst_file:
            if self.p == IOS and self.ask_filename(dst_file.split(":", 1)[1]) is None:
                return
            self.save_file(dst_file)
        elif dst_cfg == "running" and (src_cfg == "startup" or file_key(self.p, src)):
            self.copy_to_running(src, src_cfg)
        else:
            self.term.write("%%Error opening %s (Permission denied)\n" % dst)

    def copy_to_running(self, src, src_cfg):
        """The startup config or a file (its lines config mode would refuse left out)
        replaces the running config."""
        st = self.store.read()
        if src_cfg == "startup":
            tree, size = st["startup"], len(str(st["startup"]))
        else:
            found = st["files"].get(file_key(self.p, src))
            if found is None:
                self.term.write("%%Error opening %s (File not found)\n" % src)
                return
            raw = file_bytes(found)
            tree, size = parse_config(self.p, raw.decode("utf-8", "replace"))[0], len(raw)
        self.replace_running(tree)
        self.term.write("Copy complete.\n" if self.p == NXOS else "%d bytes copied\n" % size)

    def ask_filename(self, default):
        self.term.write("Destination filename [%s]? " % default)
        answer = self.term.read_line()
        if answer is None:
            os._exit(0)
        return answer

    def save_startup(self):
        with self.store.update() as st:
            st["startup"] = copying.deepcopy(st["running"])
            st["saved"] = time.time()
        self.show(NXOS_COPY_DONE if self.p == NXOS else ["Building configuration...", "[OK]"], None)

    def save_file(self, key):
        with self.store.update() as st:
            text = saved_text(self.p, st).encode()
            put_file(st, key, text)
        size = len(text)
        self.show(
            NXOS_COPY_DONE
            if self.p == NXOS
            else ["%d bytes copied in 0.112 secs (%d bytes/sec)" % (size, size * 9)],
            None,
        )

    def write_memory(self, args, keep):
        self.save_startup()

    def dir(self, args, keep):
        fs = (file_system(self.p, args[0]) or args[0].lower()) if args else DEFAULT_FS[self.p]
        fs = fs.split(":", 1)[0] + ":"
        files = self.store.read()["files"]
        lines = ["Directory of %s/" % fs, ""] if self.p == IOS else []
        for key, f in sorted(files.items()):
            if key.startswith(fs):
                stamp = time.strftime("%b %d %H:%M:%S %Y", time.localtime(f["created"]))
                size = len(file_bytes(f))
                lines.append("%12d    %s  %s" % (size, stamp, key.split(":", 1)[1]))
        self.show(lines + ["", "Usage for %s//sup-local" % fs, " 4096000 bytes free"], keep)

    def checkpoint(self, args, keep):
        with self.store.update() as st:
            cps = st["checkpoints"]
            name = args[0] if args else "user-checkpoint-%d" % (len(cps) + 1)
            if name in cps:
                self.term.write("ERROR: Checkpoint name %s is already in use\n" % name)
                return
            cps[name] = {
                "tree": copying.deepcopy(st["running"]),
                "created": time.time(),
                "user": os.environ.get("USER", "admin"),
            }
        self.term.write("...........Done\n")

    def no_checkpoint(self, args, keep):
        with self.store.update() as st:
            if not args or st["checkpoints"].pop(args[0], None) is None:
                self.term.write("Checkpoint %s does not exist\n" % (args[0] if args else ""))

    def rollback(self, args, keep):
        cp = self.store.read()["checkpoints"].get(args[0]) if args else None
        if cp is None:
            self.term.write("Checkpoint %s does not exist\n" % (args[0] if args else ""))
            return
        self.replace_running(cp["tree"])
        self.show(ROLLBACK_DONE + ["Rollback completed successfully."], None)

    def enable(self, args, keep):
        if self.mode != "user":
            return
        self.term.write("Password: ")
        answer = self.term.read_line(echo=False)
        if answer is None:
            os._exit(0)
        if answer == self.secret:
            self.mode = "exec"
        else:
            self.term.write("% Access denied\n\n")

    def disable(self, args, keep):
        if self.secret:
            self.mode = "user"

    def exit(self, args, keep):
        self.term.restore()
        os._exit(0)
