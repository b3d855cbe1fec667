"""The agentless probe: what runs on a target, and how it gets there.

One SSH connection, one remote command per host. The command starts the target's
``python3`` with a small bootstrap; the controller writes a zip of flockops's collection
code (model, drivers, chain, and the pure-Python ``pynvml`` module) to its stdin. The
bootstrap imports from that zip in memory, runs every on-host driver and prints one JSON
host report. Nothing is written on the target.

A target without a usable Python (3.10 or newer) runs a POSIX shell branch of the same
command instead: it prints the nvidia-smi answers between markers, and the controller
replays them through the very same nvidia-smi driver.
"""

from __future__ import annotations

import importlib.util
import io
import json
import marshal
import os
import shlex
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from flockops import code_cache
from flockops.agent.codec import host_from_dict
from flockops.agent.driver import CommandResult, Context, Driver
from flockops.agent.fields import clean_gpu, type_problems
from flockops.agent.model import HostReport
from flockops.errors import DriverFailed, ParseError

JSON_MARKER = "@@flockops-json"
SHELL_MARKER = "@@flockops-shell"
MIN_PYTHON = (3, 10)
TOO_OLD = 97  # the bootstrap's exit status on a Python older than MIN_PYTHON
_READ_ALL = "sys.stdin.buffer.read()"
_READ_SIZED = "sys.stdin.buffer.read(int(sys.stdin.buffer.readline()))"

# What travels: the agent package whole, and the two modules it may import from its parent (the
# package's own __init__, which imports nothing at import time, and the error tree). Everything
# else of flockops is the controller's and never leaves it.
SHIPPED_TOP_LEVEL = ("__init__.py", "errors.py")


def package_dir() -> Path:
    import flockops

    return Path(flockops.__file__).resolve().parent


def probe_modules() -> tuple[str, ...]:
    """Paths, relative to the package, of every module shipped to a target."""
    package = package_dir()
    agent = sorted(str(p.relative_to(package)) for p in (package / "agent").rglob("*.py")
                   if "__pycache__" not in p.parts)
    return (*SHIPPED_TOP_LEVEL, *agent)


# Imports modules from the zip on stdin, in memory. It reads the zip itself (struct + zlib)
# rather than importing zipfile and importlib.abc, which cost a target about 40 ms a run, and
# inflates a file only when it is imported (a target uses the code objects, not the sources).
# The one-shot probe reads the zip to the end of stdin; the resident one (--serve, watch) reads
# a "<size>\\n" line and then exactly that many bytes, so that stdin stays open for its requests.
# Nothing is written on the target: python3 -B writes no bytecode caches, and the working directory
# (the login's home) leaves sys.path, so that a file there cannot stand in for a standard module.
# A one-shot probe lives for a tenth of a second: the cyclic GC stays off (the resident probe
# turns it back on) and os._exit skips the interpreter's teardown, about 12 ms a run together.
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



def shippable_sources(module_name: str) -> dict[str, Path] | None:
    """The files of a third-party driver's top-level package or module, as zip paths, when it is
    pure Python; None when it is not (a compiled extension, a namespace package, unknown origin)."""
    top = module_name.split(".")[0]
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    origin = Path(spec.origin)
    if not spec.submodule_search_locations:
        return {f"{top}.py": origin}
    root = origin.parent
    files: dict[str, Path] = {}
    for path in root.rglob("*"):
        if "__pycache__" in path.parts or path.is_dir():
            continue
        if path.suffix in (".so", ".pyd", ".dylib"):
            return None  # compiled: it cannot travel
        if path.suffix == ".py":
            files[f"{top}/{path.relative_to(root)}"] = path
    return files


_BUILDING = threading.Lock()


def probe_zip(extra_modules: tuple[str, ...] = ()) -> bytes:
    """The zip sent to every target (built once per run): flockops's collection code, pynvml,
    and the pure-Python third-party driver modules named in ``extra_modules``. Callers that ask
    while it is being built wait for that build."""
    with _BUILDING:
        return _build_zip(extra_modules)


@lru_cache(maxsize=8)
def _build_zip(extra_modules: tuple[str, ...]) -> bytes:
    package = package_dir()
    sources = {f"flockops/{relative}": package / relative for relative in probe_modules()}
    for module_name in extra_modules:
        sources.update(shippable_sources(module_name) or {})
    spec = importlib.util.find_spec("pynvml")
    if spec is not None and spec.origin:
        sources["pynvml.py"] = Path(spec.origin)
    texts = {name: path.read_bytes() for name, path in sources.items()}
    # The same inputs make the same zip: an earlier run's, when it kept one (flockops.code_cache).
    key = code_cache.zip_key(part for name, source in texts.items() for part in (name.encode(), source))
    kept = code_cache.cached_zip(key)
    if kept is not None:
        return kept
    import zipfile  # only when the zip is built: it is usually kept

    # Compiling pynvml alone costs a target about 50 ms per run. Beside each source goes
    # its code object for this Python; a target whose Python has the same bytecode magic
    # uses it, any other compiles the source.
    magic = importlib.util.MAGIC_NUMBER.hex()
    buffer = io.BytesIO()
    # Level 1: 32 ms to build instead of 44 at the default level, for a zip 10 % larger (322 kB),
    # which costs sshd and the target nothing measurable (BENCHMARKS.md).
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, source in texts.items():
            archive.writestr(name, source)
            archive.writestr(f"{name}.code-{magic}", _code_bytes(sources[name], source, name))
    payload = buffer.getvalue()
    code_cache.keep_zip(key, payload)
    return payload


def _code_bytes(path: Path, source: bytes, name: str) -> bytes:
    """Marshalled code for ``source``: from this interpreter's own fresh .pyc when there is one
    (pip compiles installed packages), else compiled now."""
    try:
        pyc = Path(importlib.util.cache_from_source(str(path))).read_bytes()
        stat = path.stat()
        fresh = (pyc[:4] == importlib.util.MAGIC_NUMBER and pyc[4:8] == b"\0\0\0\0"
                 and int.from_bytes(pyc[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
                 and int.from_bytes(pyc[12:16], "little") == stat.st_size & 0xFFFFFFFF)
        if fresh:
            return pyc[16:]
    except (OSError, ValueError, NotImplementedError):
        pass
    return marshal.dumps(compile(source, f"flockops-probe/{name}", "exec", dont_inherit=True))


# What the shell branch copies out of sysfs: the files the sysfs drivers and PCI detection read
# (a whitelist: sysfs also holds binary blobs and files whose reads touch the hardware).
_DEVICE_FILES = ("uevent", "vendor", "device", "class", "product_name", "gpu_busy_percent", "mem_busy_percent",
                 "mem_info_vram_total", "mem_info_vram_used", "mem_info_gtt_total", "mem_info_gtt_used",
                 "lmem_total_bytes")
_HWMON_GLOBS = ("name", "temp*_input", "temp*_label", "temp*_crit", "temp*_emergency", "power1_average",
                "power1_input", "power1_cap", "power1_max", "power2_max")

_SYSFS_SCRIPT = r"""
S=${FLOCKOPS_SYSFS_ROOT:-/sys}
echo "@@root $S"
fl_ls() { printf '@@dir %s' "$1"; for e in "$1"/*; do [ -e "$e" ] && printf ' %s' "${e##*/}"; done; echo; }
fl_cat() {
  [ -f "$1" ] && [ -r "$1" ] || return 0
  printf '@@file %s\n' "$1"; tr -d '\000' < "$1" 2>/dev/null; echo; echo @@end
}
fl_ls $S/class/drm
for c in $S/class/drm/card[0-9]*; do
  case ${c##*/} in *-*) continue ;; esac
  [ -e "$c/device" ] || continue
  printf '@@link %s %s\n' "$c/device" "$(readlink -f "$c/device")"
  fl_ls "$c/device"
  for f in DEVICE_FILES; do fl_cat "$c/device/$f"; done
  [ -r "$c/device/gpu_metrics" ] && printf '@@hex %s %s\n' "$c/device/gpu_metrics" \
    "$(od -An -tx1 -N4 "$c/device/gpu_metrics" 2>/dev/null | tr -d ' \n')"
  for t in "$c"/device/tile[0-9]*; do [ -d "$t" ] && fl_cat "$t/physical_vram_size_bytes"; done
  fl_ls "$c/device/hwmon"
  for h in "$c"/device/hwmon/hwmon*; do
    [ -d "$h" ] || continue
    fl_ls "$h"
    for f in HWMON_GLOBS; do fl_cat "$f"; done
  done
done
fl_ls $S/bus/pci/devices
for p in $S/bus/pci/devices/*; do
  case $(cat "$p/class" 2>/dev/null) in 0x03*) for f in class vendor device uevent; do fl_cat "$p/$f"; done ;; esac
done
"""


def shell_branch(commands: Sequence[Sequence[str]]) -> str:
    """A POSIX sh script that runs each vendor tool's commands and copies the sysfs files the drivers
    read, printing everything between markers for :func:`parse_shell_output`."""
    lines = [
        f"echo {SHELL_MARKER}",
        "PATH=\"$PATH:/usr/bin:/usr/local/bin:/opt/rocm/bin\"; export LC_ALL=C",
        "t=; command -v timeout >/dev/null 2>&1 && t='timeout 10'",
    ]
    by_tool: dict[str, list[Sequence[str]]] = {}
    for argv in commands:
        by_tool.setdefault(argv[0], []).append(argv)
    for tool, argvs in by_tool.items():
        name = shlex.quote(tool)
        lines.append(f"if command -v {name} >/dev/null 2>&1; then")
        for argv in argvs:
            quoted = " ".join(shlex.quote(a) for a in argv[1:])
            lines.append(f"  echo {shlex.quote('@@cmd ' + ' '.join(argv))}; $t {name} {quoted} 2>&1; echo \"@@rc $?\"")
        lines.append(f"else echo {shlex.quote('@@missing ' + tool)}; fi")
    hwmon = " ".join(f'"$h"/{glob}' for glob in _HWMON_GLOBS)
    lines.append(_SYSFS_SCRIPT.replace("DEVICE_FILES", " ".join(_DEVICE_FILES)).replace("HWMON_GLOBS", hwmon))
    return "\n".join(lines)


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
    probe of ``flockops watch`` (:mod:`flockops.resident`); its stdin is :func:`framed` zip, then
    one request line per report. ``alarm_s``: the one-shot probe ends itself after that long (a
    GPU library call that hangs must not outlive the controller's deadline on the target).
    """
    py = " ".join(shlex.quote(word) for word in interpreter_words(python))
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


@dataclass(frozen=True)
class RecordedContext(Context):
    """A Context that answers from what the shell branch recorded on the target: command results
    and sysfs files. Anything not recorded reads as missing; the controller's own /sys is never read."""

    recorded: Mapping[tuple[str, ...], CommandResult] | None = None
    missing_tools: frozenset[str] = frozenset()
    files: Mapping[str, bytes] = field(default_factory=dict)
    dirs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)

    def which(self, tool: str) -> str | None:
        return None if tool in self.missing_tools or tool not in self.tools else tool

    @property
    def tools(self) -> frozenset[str]:
        return frozenset(argv[0] for argv in self.recorded or ())

    def run(self, argv: Sequence[str], timeout_s: float | None = None) -> CommandResult:
        key = tuple(argv)
        if self.recorded is None or key not in self.recorded:
            raise DriverFailed(f"the shell probe did not record `{' '.join(argv)}` (no Python on the target)")
        return self.recorded[key]

    def read_text(self, path: str) -> str | None:
        data = self.files.get(path)
        return None if data is None else data.rstrip(b"\x00").decode(errors="replace").strip()

    def read_bytes(self, path: str, size: int = 4096) -> bytes | None:
        data = self.files.get(path)
        return None if data is None else data[:size]

    def list_dir(self, path: str) -> list[str]:
        return sorted(self.dirs.get(path.rstrip("/"), ()))

    def real_name(self, path: str) -> str:
        return os.path.basename(self.links.get(path, path))

    def process_name(self, pid: int) -> str | None:
        return None

    @property
    def empty(self) -> bool:
        """Nothing at all to read: no tool answered and no GPU-ish sysfs entry exists."""
        return not self.recorded and not self.dirs.get(os.path.join(self.sysfs_root, "class", "drm"))


def parse_shell_output(text: str) -> RecordedContext:
    """Split the shell branch's output into recorded command results and sysfs files."""
    recorded: dict[tuple[str, ...], CommandResult] = {}
    missing: set[str] = set()
    files: dict[str, bytes] = {}
    dirs: dict[str, tuple[str, ...]] = {}
    links: dict[str, str] = {}
    root = "/sys"
    current: tuple[str, ...] | None = None
    current_file: str | None = None
    body: list[str] = []
    for line in text.splitlines():
        if current_file is not None:
            if line == "@@end":
                files[current_file] = "\n".join(body).encode()
                current_file = None
            else:
                body.append(line)
        elif line.startswith("@@cmd "):
            current, body = tuple(line[len("@@cmd "):].split(" ")), []
        elif line.startswith("@@rc ") and current is not None:
            try:
                rc = int(line[len("@@rc "):])
            except ValueError:
                raise ParseError("bad exit status line from the shell probe", line) from None
            recorded[current] = CommandResult(current, rc, "\n".join(body) + "\n", "")
            current = None
        elif current is not None:
            body.append(line)
        elif line.startswith("@@missing "):
            missing.add(line[len("@@missing "):].strip())
        elif line.startswith("@@file "):
            current_file, body = line[len("@@file "):], []
        elif line.startswith("@@root "):
            root = line[len("@@root "):].strip() or root
        elif line.startswith("@@dir "):
            path, *names = line[len("@@dir "):].split(" ")
            dirs[path] = tuple(names)
        elif line.startswith("@@link "):
            path, _, target = line[len("@@link "):].partition(" ")
            links[path] = target
        elif line.startswith("@@hex "):
            path, _, hexdigits = line[len("@@hex "):].partition(" ")
            try:
                files[path] = bytes.fromhex(hexdigits.strip())
            except ValueError:
                raise ParseError("bad hex dump from the shell probe", line) from None
    return RecordedContext(env={}, sysfs_root=root, recorded=recorded, missing_tools=frozenset(missing),
                           files=files, dirs=dirs, links=links)


def shell_commands() -> list[list[str]]:
    """Every command the built-in tool drivers would run, for the shell branch to record."""
    from flockops.agent.drivers.amd_smi import AmdSmiDriver
    from flockops.agent.drivers.nvidia_smi import NvidiaSmiDriver
    from flockops.agent.drivers.rocm_smi import RocmSmiDriver

    return [argv for driver in (NvidiaSmiDriver(), AmdSmiDriver(), RocmSmiDriver())
            for argv in driver.planned_commands()]


def shell_drivers() -> list[Driver]:
    """The built-in drivers that can work from what the shell branch records."""
    from flockops.agent.drivers.amd_smi import AmdSmiDriver
    from flockops.agent.drivers.nvidia_smi import NvidiaSmiDriver
    from flockops.agent.drivers.rocm_smi import RocmSmiDriver
    from flockops.agent.drivers.sysfs import AmdgpuSysfsDriver, IntelSysfsDriver

    return [NvidiaSmiDriver(), AmdSmiDriver(), RocmSmiDriver(), AmdgpuSysfsDriver(), IntelSysfsDriver()]


def parse_python_output(text: str, host: str) -> HostReport:
    """The Python probe's JSON host report, validated."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):  # RecursionError: nested deeper than json can follow
        raise ParseError("the probe did not print a JSON report", text.strip()[-300:]) from None
    if not isinstance(data, dict) or not isinstance(data.get("gpus"), list):
        raise ParseError("the probe's JSON is not a host report", text.strip()[:300])
    data["host"] = host
    try:
        report = host_from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ParseError(f"the probe's JSON does not fit the model ({exc})", text.strip()[:300]) from None
    problems = type_problems(report)
    if problems:
        raise ParseError(f"the probe's JSON does not fit the model: {'; '.join(problems[:3])}", text.strip()[:300])
    # Values no GPU can have are unknown, as from a local driver: the target's probe did the same,
    # unless it is not ours.
    return replace(report, gpus=tuple(clean_gpu(g, "the probe") for g in report.gpus))
