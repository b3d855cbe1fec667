"""The POSIX-shell fallback: what a target without Python 3.10+ runs, and its replay here.

The shell branch of the remote command runs each vendor tool's queries (nvidia-smi, amd-smi,
rocm-smi) and copies out the sysfs files the sysfs drivers read, printing everything between
markers; the controller parses that into a :class:`RecordedContext` and runs the very same
drivers against it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from flockops.agent.driver import CommandResult, Context, Driver
from flockops.errors import DriverFailed, ParseError

SHELL_MARKER = "@@flockops-shell"

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
