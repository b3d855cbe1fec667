"""The POSIX-shell fallback: what a target without Python 3.10+ runs instead of the probe.

The shell branch of the remote command runs each vendor tool's queries (nvidia-smi, amd-smi,
rocm-smi) and copies out the sysfs files the sysfs drivers read, printing everything between
markers; :mod:`flockops.remote.replay` reads that back on the controller.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

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
        "t=; command -v timeout >/dev/null 2>&1 && t='timeout -k 2 10'",
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


def shell_commands() -> list[list[str]]:
    """Every command the built-in tool drivers would run, for the shell branch to record."""
    from flockops.agent.drivers.amd_smi import AmdSmiDriver
    from flockops.agent.drivers.nvidia_smi import NvidiaSmiDriver
    from flockops.agent.drivers.rocm_smi import RocmSmiDriver

    return [argv for driver in (NvidiaSmiDriver(), AmdSmiDriver(), RocmSmiDriver())
            for argv in driver.planned_commands()]


