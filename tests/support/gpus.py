"""GPUs as the fake libraries play them: a config entry each (tests/support/fakenvml/FORMAT.md and
fakeamdsmi/FORMAT.md), with overrides."""

from __future__ import annotations

from typing import Any

from .units import GIB, MIB


def h100(**overrides: Any) -> dict[str, Any]:
    gpu: dict[str, Any] = {
        "name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-3f1c0000-0000-0000-0000-000000000001",
        "pci_bus_id": "00000000:00:09.0", "memory_total": 80 * GIB, "memory_reserved": 479 * MIB,
        "memory_used": 10 * GIB, "memory_free": 80 * GIB - 479 * MIB - 10 * GIB,
        "util_gpu": 45, "util_memory": 12, "temperature": 62, "temp_slowdown": 89, "temp_shutdown": 92,
        "temp_gpu_max": 87, "power_mw": 250_500, "power_limit_mw": 700_000, "fan": 30,
        "clocks_event_reasons": 0x44,
    }
    gpu.update(overrides)
    return gpu


def mi210(**overrides: Any) -> dict[str, Any]:
    """An MI210 with every sensor the driver reads (edge, junction, memory)."""
    gpu: dict[str, Any] = {
        "market_name": "AMD Instinct MI210", "device_id": 0x740F, "asic_serial": "0xD5E1F4A1B2C3D4E5",
        "uuid": "5eff740f-0000-1000-80aa-d5e1f4a1b2c3", "bdf": "0000:63:00.0",
        "vram_total": 64 * GIB, "vram_used": 12 * GIB + 4096,
        "temp_edge_current": 38, "temp_edge_critical": 100, "temp_edge_emergency": 105,
        "temp_junction_current": 44, "temp_junction_critical": 110, "temp_junction_emergency": 115,
        "temp_mem_current": 41, "temp_mem_critical": 95, "temp_mem_emergency": 100,
        "gfx_activity": 37, "umc_activity": 9, "socket_power": 96, "power_cap": 300_000_000,
        "driver_version": "6.10.5",
    }
    gpu.update(overrides)
    return gpu


def mi300a(**overrides: Any) -> dict[str, Any]:
    """An MI300A APU: no edge sensor, junction and memory only; violation status (MI300+)."""
    gpu: dict[str, Any] = {
        "market_name": "AMD Instinct MI300A", "uuid": "a1ff74a0-0000-1000-8000-000000000001",
        "bdf": "0002:01:00.0", "vram_total": 128 * GIB, "vram_used": 3 * GIB,
        "temp_hotspot_current": 51, "temp_hotspot_critical": 100, "temp_hotspot_emergency": 105,
        "temp_vram_current": 47, "temp_vram_critical": 95, "temp_vram_emergency": 105,
        "gfx_activity": 88, "socket_power": 412, "power_cap": 550_000_000,
        "active_ppt_pwr": 1, "active_socket_thrm": 0, "active_prochot_thrm": 0,
        "active_vr_thrm": 0, "active_hbm_thrm": 0,
    }
    gpu.update(overrides)
    return gpu
