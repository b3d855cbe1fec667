"""Holders of amdgpu, i915 and xe GPUs where no vendor tool lists them: DRM clients in fdinfo.

Every fd open on a DRM node (``/dev/dri/renderD128``, ``card0``) has ``/proc/PID/fdinfo/FD`` with
the client's usage (the kernel's Documentation/gpu/drm-usage-stats.rst): ``drm-driver``,
``drm-pdev`` (the PCI address), ``drm-client-id``, and memory per region as ``drm-resident-<region>``,
``drm-total-<region>`` or, before those were standardised, ``drm-memory-<region>`` (amdgpu's
``vram``, ``gtt``, ``cpu``; i915's ``local0``, ``system0``; xe's ``vram0``, ``gtt``, ``system``),
in bytes, KiB or MiB. One client reached through several fds (dup, fork, SCM_RIGHTS) has one
client id: it is counted once, for the lowest pid holding it, as amdgpu_top does.

Finding them means looking at every process's fds: one listing and a readlink per fd, plus one
read per DRM fd. So it runs only for GPUs whose driver listed no processes; another user's fds
need root, and how many processes could not be looked at is said.
"""

from __future__ import annotations

import os
import re

from ..driver import Context
from ..model import GpuProcess
from ..parse import pci_bus_key

_UNITS = {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
_VRAM_REGIONS = r"^(vram\d*|local\d*)$"
_SHARED_REGIONS = r"^(gtt|system\d*)$"


def parse_fdinfo(text: str) -> dict[str, object]:
    """A DRM client's driver, pdev, client id, and VRAM and shared (GTT) memory in bytes.

    One real fdinfo of an amdgpu client (amdgpu_top#87): ``drm-driver: amdgpu``, ``drm-pdev:
    0000:08:00.0``, ``drm-client-id: 217``, ``drm-memory-vram: 2068 KiB``, ``drm-memory-gtt: 8192 KiB``.
    """
    keys: dict[str, str] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon and key.startswith("drm-"):
            keys[key.strip()] = value.strip()
    regions: dict[str, dict[str, int]] = {}
    for key, value in keys.items():
        match = re.match(r"^drm-(resident|total|memory)-(.+)$", key)
        amount = re.match(r"^(\d+)\s*([KMG]iB|B)?$", value)
        if match and amount:
            bytes_ = int(amount.group(1)) * _UNITS[amount.group(2) or ""]
            regions.setdefault(match.group(2), {})[match.group(1)] = bytes_

    def chosen(pattern: str) -> int | None:
        values = [next(r[k] for k in ("resident", "memory", "total") if k in r)
                  for name, r in regions.items() if re.match(pattern, name)]
        return sum(values) if values else None

    client = keys.get("drm-client-id", "")
    return {"driver": keys.get("drm-driver"), "pdev": pci_bus_key(keys.get("drm-pdev")),
            "client_id": int(client) if client.isdigit() else None,
            "vram_bytes": chosen(_VRAM_REGIONS), "shared_bytes": chosen(_SHARED_REGIONS)}


def drm_holders(ctx: Context, bus_ids: set[str]) -> tuple[dict[str, list[GpuProcess]], int]:
    """PCI address -> the DRM clients holding memory on that GPU (by process), and how many
    processes' fds could not be looked at (another user's, without root)."""
    pids, _ = ctx.list_or_why(ctx.proc_root)
    seen_clients: set[tuple[str, int]] = set()
    found: dict[str, dict[int, list[int | None]]] = {}
    unreadable = 0
    for pid in sorted(int(p) for p in pids or () if p.isdigit()):
        fd_dir = os.path.join(ctx.proc_root, str(pid), "fd")
        fds, why = ctx.list_or_why(fd_dir)
        if fds is None:
            unreadable += why == "permission denied"
            continue
        for fd in fds:
            link, _ = ctx.link_or_why(os.path.join(fd_dir, fd))
            if link is None or not link.startswith("/dev/dri/"):
                continue
            data, _ = ctx.read_or_why(os.path.join(ctx.proc_root, str(pid), "fdinfo", fd), 8192)
            info = parse_fdinfo((data or b"").decode(errors="replace"))
            pdev, client = info["pdev"], info["client_id"]
            if not isinstance(pdev, str) or pdev not in bus_ids:
                continue
            if isinstance(client, int):
                if (pdev, client) in seen_clients:
                    continue
                seen_clients.add((pdev, client))
            totals = found.setdefault(pdev, {}).setdefault(pid, [None, None])
            for slot, key in ((0, "vram_bytes"), (1, "shared_bytes")):
                value = info[key]
                if isinstance(value, int):
                    totals[slot] = (totals[slot] or 0) + value
    holders = {bus: [GpuProcess(pid=pid, name=ctx.process_name(pid), memory_used_bytes=vram,
                                memory_shared_used_bytes=shared, source="fdinfo")
                     for pid, (vram, shared) in sorted(by_pid.items())]
               for bus, by_pid in found.items()}
    return holders, unreadable
