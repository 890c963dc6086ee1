"""Launch one PyPI `fake-switches` device for a test: a Cisco IOS-like SSH shell or a
Juniper Junos NETCONF server (SSH subsystem `netconf`) on 127.0.0.1.

Run with the Python of the venv that tests/setup/fake-switches.sh builds:

    fake_switches.py --model cisco|juniper --port P --username U --password PW
                     [--enable-password E] [--hostname H] --host-key PATH [--verbose]

`--port 0` lets the kernel pick a free port. When the listener is up the launcher
prints one line `READY <port>` on stdout (and nothing else there); then it serves
until killed. Logs go to stderr (warnings only unless --verbose).

The host key is the RSA private key in PATH (traditional PEM or OpenSSH format), so the
test knows its fingerprint; fake-switches itself only has one hard-coded key.

Cisco (`cisco_generic`, a 2960 with FastEthernet0/1-12): with --enable-password the
session starts at `H>` and `enable` asks for that password; without it the session
starts in enable mode (`H#`, like a privilege-15 user). Prompts have no trailing
space: `H>`, `H#`, `H(config)#`, `H(config-if)#`. With or without a PTY, fake-switches
echoes typed input itself (its Twisted line editor; not the enable password), and
writes `\\r\\n` line ends: `show version\\n` comes back as `show version\\r\\n`, the
output, `\\r\\n`, then `H#`. Defects of fake-switches 1.5.0 patched here at run time
(site-packages is not edited):

* `end` in configuration mode (or a sub-mode) did not return to enable mode;
* `exit` at the `>` prompt did not close the session;
* `terminal …` (`terminal length 0`, `terminal width 511`) was refused at `>`;
* fake-switches' own launcher passes the enable password as `bytes` (never equal to
  the typed `str`; here it is a `str`), and an empty line was accepted as the enable
  password;
* `show version` was refused at `>` (IOS answers it there);
* `exit` wrote a terminal reset (`ESC c`) before closing;
* CR LF counted as two Enters (an empty line: a second prompt);
* unknown commands printed `No such command : …` instead of IOS's caret marker and
  `% Invalid input detected at '^' marker.`.

Juniper (`juniper_generic`, NETCONF on the SSH subsystem `netconf`, base:1.0 `]]>]]>`
framing): tests/netsim/fake_junos.py adds the Junos RPCs fake-switches lacks
(`get-software-information`, `command`, `load-configuration rollback="N"`, commit
history, confirmed commits that roll back by themselves, …); its docstring says what
each answers.
"""

import argparse
import importlib.util
import logging
import os
import sys
import warnings

# Twisted's cipher table names TripleDES, which cryptography 44 warns about at import.
warnings.filterwarnings("ignore", message=".*TripleDES.*")

# This file's name is the package's: keep its folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

# pylint: disable=wrong-import-position
from twisted.conch.ssh import keys
from twisted.internet import reactor

from fake_switches import switch_factory
from fake_switches.cisco import cisco_core
from fake_switches.cisco.command_processor.config import ConfigCommandProcessor
from fake_switches.cisco.command_processor.default import DefaultCommandProcessor
from fake_switches.cisco.command_processor.enabled import EnabledCommandProcessor
from fake_switches.terminal.ssh import SwitchSSHShell
from fake_switches.transports import ssh_service

MODELS = {"cisco": "cisco_generic", "juniper": "juniper_generic"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=sorted(MODELS), required=True)
    p.add_argument("--port", type=int, required=True, help="0: any free port")
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--enable-password", default=None)
    p.add_argument("--hostname", default="switch")
    p.add_argument("--host-key", required=True, help="RSA private key file")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args()


def use_host_key(path):
    """Makes fake-switches' SSH service present the RSA key in `path`."""
    with open(path, "rb") as f:
        text = f.read()
    private = keys.Key.fromString(text)
    if private.type() != "RSA":
        sys.exit(f"{path}: not an RSA key (ssh2/libssh2 1.10 needs ssh-rsa)")
    public = private.public().toString("openssh").decode()
    ssh_service.getRSAKeys = lambda: (public, text.decode())


def patch_cisco():
    """The run-time fixes of fake-switches' Cisco model listed in the module doc."""

    def config_end(self, *_):
        # Any sub-mode (interface, vlan, vrf) does not know `end`, so the line falls
        # back to this processor; being done returns the enable processor to `#`.
        self.is_done = True

    def user_exit(self, *_):
        self.is_done = True

    def user_terminal(self, *_):
        pass

    def continue_enabling(self, line):
        self.replace_input = False
        if line in [str(p) for p in self.switch_configuration.privileged_passwords]:
            self.move_to(self.enabled_processor)
        else:
            self.write_line("% Access denied")
            self.write_line("")

    def caret_error(proc, at):
        while proc.sub_processor is not None:
            proc = proc.sub_processor
        column = len(proc.get_prompt()) + at
        proc.terminal_controller.write(
            " " * column + "^\n% Invalid input detected at '^' marker.\n\n"
        )

    def unknown_command(self, line):
        caret_error(self.command_processor, len(line) - len(line.lstrip()))

    def user_show(self, *args):
        # IOS answers `show version` at `>` too; the rest of `show` needs enable.
        if args and "version".startswith(args[0]):
            EnabledCommandProcessor.show_version(self)
        else:
            caret_error(self, len("show "))

    original_keystroke = SwitchSSHShell.keystrokeReceived

    def keystroke(self, key_id, modifier):
        # CR LF is one Enter (Twisted's line editor took it for two: an extra prompt).
        after_cr = getattr(self, "netsim_after_cr", False)
        self.netsim_after_cr = key_id == b"\r"
        if not (after_cr and key_id == b"\n"):
            original_keystroke(self, key_id, modifier)

    def line_received(self, line):
        # Close without insults' terminal reset (`ESC c`), which no device sends.
        if not self.session.receive(line.decode()):
            self.terminal.transport.loseConnection()

    ConfigCommandProcessor.do_end = config_end
    DefaultCommandProcessor.do_exit = user_exit
    DefaultCommandProcessor.do_terminal = user_terminal
    DefaultCommandProcessor.continue_enabling = continue_enabling
    DefaultCommandProcessor.do_show = user_show
    SwitchSSHShell.lineReceived = line_received
    SwitchSSHShell.keystrokeReceived = keystroke
    cisco_core.CiscoShellSession.handle_unknown_command = unknown_command


def build_core(args):
    factory = switch_factory.SwitchFactory()
    if args.model == "cisco":
        patch_cisco()
        enable = args.enable_password
        return factory.get(
            MODELS["cisco"],
            hostname=args.hostname,
            password=enable if enable is not None else args.password,
            auto_enabled=enable is None,
        )
    core = factory.get(MODELS["juniper"], hostname=args.hostname, password=args.password)
    junos_patches().install(core, args.hostname, args.username)
    return core


def junos_patches():
    """tests/netsim/fake_junos.py (this folder is off the import path)."""
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    path = os.path.join(_HERE, "fake_junos.py")
    spec = importlib.util.spec_from_file_location("fake_junos", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    args = parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    use_host_key(args.host_key)
    service = ssh_service.SwitchSshService(
        ip="127.0.0.1",
        port=args.port,
        switch_core=build_core(args),
        users={args.username: args.password.encode()},
    )
    listening = service.hook_to_reactor(reactor)
    print(f"READY {listening.getHost().port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
