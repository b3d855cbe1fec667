"""flockops plugin: Intel Data Center GPU Max/Flex and Arc GPUs through Intel's ``xpu-smi``.

An out-of-tree driver, packaged on its own, registered through the ``flockops`` entry-point
group (see pyproject.toml). It needs only the standard library and flockops' driver API:
``Driver``, ``Context``, ``GpuSample`` and the two errors.

``xpu-smi discovery -j`` lists the devices::

    {"device_list": [{"device_id": 0, "device_name": "Intel(R) Graphics [0x020a]",
                      "pci_bdf_address": "0000:4d:00.0", "uuid": "...", ...}]}

``xpu-smi stats -d N -j`` samples one: ``{"device_id": 0, "device_level": [{"metrics_type":
"XPUM_STATS_GPU_CORE_TEMPERATURE", "value": 41}, ...], "tile_level": [...]}``. A metric the
device lacks is simply absent (the text table leaves its cell blank).

``XPUM_STATS_MEMORY_USED`` changed unit: bytes in xpumanager 1.0/1.1 JSON, MiB later (the
text table says "GPU Memory Used (MiB)"). A value of 16 Mi or more is taken as bytes (no GPU
has 16 TiB), anything smaller as MiB.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import flockops
from flockops.agent.driver import Context, Driver
from flockops.agent.model import GpuSample
from flockops.errors import DriverFailed, DriverUnavailable

__version__ = "0.1.0"
TOOL = "xpu-smi"
MIB = 1 << 20


def _json(ctx: Context, argv: Sequence[str]) -> Any:
    result = ctx.run(argv)
    text = result.stdout.strip()
    if result.returncode != 0 or not text.startswith(("{", "[")):
        said = (result.stdout + result.stderr).strip().splitlines()
        first = said[0] if said else "no output"
        if "no device" in first.lower() or "not found" in first.lower():
            raise DriverUnavailable(f"xpu-smi: {first}")
        raise DriverFailed(f"xpu-smi exited with status {result.returncode}: {first}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DriverFailed(f"xpu-smi printed JSON flockops cannot read: {exc}") from None


def _metrics(stats: Mapping[str, Any]) -> dict[str, float]:
    found: dict[str, float] = {}
    for entry in stats.get("device_level") or ():
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            found[str(entry.get("metrics_type"))] = float(value)
    return found


def _memory_used(value: float | None) -> int | None:
    if value is None:
        return None
    return int(value) if value >= 16 * MIB else int(value * MIB)


def sample(device: Mapping[str, Any], stats: Mapping[str, Any], detail: Mapping[str, Any]) -> GpuSample:
    m = _metrics(stats)
    total = detail.get("memory_physical_size_byte")
    total_bytes = int(total) if isinstance(total, (int, str)) and str(total).isdigit() else None
    used = _memory_used(m.get("XPUM_STATS_MEMORY_USED"))
    util: Callable[[str], int | None] = lambda key: None if key not in m else int(round(m[key]))  # noqa: E731
    return GpuSample(
        vendor="intel", index=int(device["device_id"]), source=TOOL,
        name=device.get("device_name"), uuid=device.get("uuid"), pci_bus_id=device.get("pci_bdf_address"),
        memory_total_bytes=total_bytes, memory_used_bytes=used,
        memory_free_bytes=None if total_bytes is None or used is None else total_bytes - used,
        utilization_pct=util("XPUM_STATS_GPU_UTILIZATION"),
        memory_utilization_pct=util("XPUM_STATS_MEMORY_UTILIZATION"),
        temperature_c=m.get("XPUM_STATS_GPU_CORE_TEMPERATURE"),
        power_w=m.get("XPUM_STATS_POWER"),
    )


class XpuSmiDriver(Driver):
    """Intel GPUs through xpu-smi (Intel XPU Manager)."""

    name = TOOL
    vendor = "intel"
    priority = 20  # before flockops' built-in sysfs-intel (40), which cannot see used VRAM

    def _tool(self, ctx: Context) -> str:
        tool = ctx.which(TOOL)
        if tool is None:
            raise DriverUnavailable("xpu-smi not found on PATH (install Intel XPU Manager)")
        return tool

    def probe(self, ctx: Context) -> None:
        self._tool(ctx)

    def collect(self, ctx: Context) -> Sequence[GpuSample]:
        tool = self._tool(ctx)
        devices = _json(ctx, [tool, "discovery", "-j"]).get("device_list") or []
        if not devices:
            raise DriverUnavailable("xpu-smi lists no device")
        gpus = []
        for device in devices:
            number = str(device["device_id"])
            try:
                stats = _json(ctx, [tool, "stats", "-d", number, "-j"])
                detail = _json(ctx, [tool, "discovery", "-d", number, "-j"])
            except (DriverFailed, DriverUnavailable) as exc:  # one device's trouble is its own
                gpus.append(GpuSample(vendor="intel", index=int(number), source=TOOL, lost=True,
                                      name=device.get("device_name"), pci_bus_id=device.get("pci_bdf_address"),
                                      lost_reason=str(exc)))
                continue
            gpus.append(sample(device, stats, detail))
        return gpus


@flockops.hookimpl
def register_drivers(register: Callable[[Driver], None]) -> None:
    register(XpuSmiDriver())
