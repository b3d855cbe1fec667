"""The one remote command run on a target, and the bootstrap it starts there.

One SSH connection, one remote command per host. The command starts the target's ``python3``
with a small bootstrap; the controller writes the probe's zip (:mod:`flockops.remote.bundle`) to
its stdin. The bootstrap imports from that zip in memory, runs every on-host driver
(:mod:`flockops.agent.main`) and prints one JSON host report. Nothing is written on the target.

A target without a usable Python (3.10 or newer) runs the POSIX shell branch of the same command
instead (:mod:`flockops.remote.shell`).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from .shell import shell_branch

JSON_MARKER = "@@flockops-json"
MIN_PYTHON = (3, 10)
TOO_OLD = 97  # the bootstrap's exit status on a Python older than MIN_PYTHON
_READ_ALL = "sys.stdin.buffer.read()"
_READ_SIZED = "sys.stdin.buffer.read(int(sys.stdin.buffer.readline()))"

# Imports modules from the zip on stdin, in memory. It reads the zip itself (struct + zlib)
# rather than importing zipfile and importlib.abc, which would cost every target each run, and
# inflates a file only when it is imported (a target uses the code objects, not the sources).
# The one-shot probe reads the zip to the end of stdin; the resident one (--serve, watch) reads
# a "<size>\\n" line and then exactly that many bytes, so that stdin stays open for its requests.
# Nothing is written on the target: python3 -B writes no bytecode caches, and the working directory
# (the login's home) leaves sys.path, so that a file there cannot stand in for a standard module.
# A one-shot probe lives for a tenth of a second: the cyclic GC stays off (the resident probe
# turns it back on) and os._exit skips the interpreter's teardown (BENCHMARKS.md).
BOOTSTRAP = """\
import sys
if sys.path[:1] == [""]:
    del sys.path[0]
if sys.version_info < %r:
    sys.exit(%d)
import gc, marshal, os, struct, zlib
gc.disable()
from importlib.machinery import ModuleSpec
from importlib._bootstrap_external import MAGIC_NUMBER
data = %s
end = data.rfind(b"PK\\x05\\x06")
count, at = struct.unpack("<H4xI", data[end + 10:end + 20])
files = {}
for _ in range(count):
    method, size, nlen, xlen, clen, local = struct.unpack("<10xH8xI4xHHH8xI", data[at:at + 46])
    files[data[at + 46:at + 46 + nlen].decode()] = (method, size, local)
    at += 46 + nlen + xlen + clen
def read(name):
    method, size, local = files[name]
    start = local + 30 + sum(struct.unpack("<HH", data[local + 26:local + 30]))
    raw = data[start:start + size]
    return zlib.decompress(raw, -15) if method == 8 else raw
MAGIC = MAGIC_NUMBER.hex()
class Zip:
    def _path(self, name):
        base = name.replace(".", "/")
        for p in (base + "/__init__.py", base + ".py"):
            if p in files:
                return p
    def find_spec(self, name, path=None, target=None):
        p = self._path(name)
        if p:
            return ModuleSpec(name, self, origin="flockops-probe/" + p, is_package=p.endswith("__init__.py"))
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        p = self._path(module.__name__)
        code = p + ".code-" + MAGIC
        code = marshal.loads(read(code)) if code in files else compile(read(p), "flockops-probe/" + p, "exec")
        exec(code, module.__dict__)
sys.meta_path.insert(0, Zip())
sys.stdout.write("%s\\n")
from flockops.agent.main import main
main(sys.argv[1:])
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
"""


# Ansible's interpreter discovery values: flockops asks the target's python3 (and falls back to the
# shell branch), which is what discovery finds on every supported target.
_DISCOVERY = frozenset({"auto", "auto_silent", "auto_legacy", "auto_legacy_silent"})


def interpreter_words(python: str | None) -> list[str]:
    """``ansible_python_interpreter`` as the words of a command: "python3" for none or a discovery
    value, and "/usr/bin/env python3" as two words, as Ansible runs it. Each word is quoted by the
    caller, so no text of the inventory ever reaches the shell unquoted."""
    if python is None or python.strip() in _DISCOVERY or not python.strip():
        return ["python3"]
    try:
        return shlex.split(python)
    except ValueError:  # an unclosed quote: the text as one (quoted) word
        return [python]


def remote_command(python: str | None, selected: Sequence[str] | None, queries: Sequence[Sequence[str]],
                   extra_drivers: Sequence[str] = (), serve: bool = False, alarm_s: int | None = None) -> str:
    """The one command run on a target: the Python probe if it can run, else the shell branch.

    ``extra_drivers`` are "module:Class" of shipped third-party drivers. ``serve``: the resident
    probe of ``flockops watch`` (:mod:`flockops.remote.resident`); its stdin is :func:`framed` zip, then
    one request line per report. ``alarm_s``: the one-shot probe ends itself after that long (a
    GPU library call that hangs must not outlive the controller's deadline on the target), and a
    second later the target's ``timeout`` (where there is one) ends what runs instead of it: an
    interpreter that never reaches the bootstrap, and the tools and children of either.
    """
    py = " ".join(shlex.quote(word) for word in interpreter_words(python))
    if alarm_s is not None and not serve:
        # GNU coreutils' and BusyBox's timeout signal the whole process group, -k escalating to KILL.
        guard = int(alarm_s) + 1
        py = f't=; command -v timeout >/dev/null 2>&1 && t="timeout -k 2 {guard}"; $t {py}'
    bootstrap = BOOTSTRAP % (MIN_PYTHON, TOO_OLD, _READ_SIZED if serve else _READ_ALL, JSON_MARKER)
    words = [*(f"--driver={name}" for name in selected or ()), *(f"--extra={t}" for t in extra_drivers)]
    if serve:
        words.append("--serve")
    elif alarm_s is not None:
        words.append(f"--alarm={int(alarm_s)}")
    args = " ".join(shlex.quote(word) for word in words)
    # One Python start: the bootstrap itself exits TOO_OLD on an old Python; 126/127 mean
    # no interpreter there. Either way the shell branch runs instead (it needs no stdin).
    return (
        f"{py} -B -c {shlex.quote(bootstrap)} {args}; rc=$?; "
        f"case $rc in {TOO_OLD}|126|127) {{ {shell_branch(queries)}\n}} ;; *) exit $rc ;; esac"
    )


def framed(payload: bytes) -> bytes:
    """The zip as the resident probe's bootstrap reads it: its size on a line, then the bytes."""
    return b"%d\n" % len(payload) + payload
