"""Holders of amdgpu, i915 and xe GPUs from DRM fdinfo, where no vendor tool lists them
(flockops.agent.holders.fdinfo), in a recorded /proc tree.
"""

from __future__ import annotations

import os
from pathlib import Path

from support.paths import DATA
from support.procfs import proc_root, write_process

from flockops.agent.driver import Context
from flockops.agent.holders.attribution import attribute
from flockops.agent.holders.fdinfo import parse_fdinfo
from flockops.agent.model import GpuSample

ENGINES = DATA / "engines"
AMDGPU = ENGINES / "fdinfo-amdgpu-amdgpu_top-i87-2024-06-client-217.txt"  # pdev 0000:08:00.0, client 217
XE = ENGINES / "constructed-fdinfo-xe-drm-usage-stats-keys.txt"  # pdev 0000:03:00.0, client 41


def test_amdgpu_client_as_recorded() -> None:
    """amdgpu_top#87: the pre-standard drm-memory-* keys, in KiB."""
    assert parse_fdinfo(AMDGPU.read_text()) == {"driver": "amdgpu", "pdev": "0000:08:00.0", "client_id": 217,
                                                "vram_bytes": 2068 * 1024, "shared_bytes": 8192 * 1024}


def test_xe_resident_regions() -> None:
    """xe's drm-resident-vram0 is VRAM; its gtt and system regions are system memory the GPU maps."""
    info = parse_fdinfo(XE.read_text())
    assert (info["vram_bytes"], info["shared_bytes"]) == (1 << 30, 2048 * 1024 + 4 * 1024)


def drm_fd(process: Path, fd: int, node: str, info: Path) -> None:
    (process / "fd").mkdir(exist_ok=True)
    (process / "fdinfo").mkdir(exist_ok=True)
    os.symlink(node, process / "fd" / str(fd))
    (process / "fdinfo" / str(fd)).write_bytes(info.read_bytes())


def test_drm_clients_become_the_gpus_holders(tmp_path: Path) -> None:
    proc = proc_root(tmp_path / "proc")
    game = write_process(proc, 2217, ["/usr/bin/python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "m"])
    drm_fd(game, 99, "/dev/dri/renderD128", AMDGPU)
    drm_fd(game, 100, "/dev/dri/renderD128", AMDGPU)  # the same client through a dup'd fd: counted once
    child = write_process(proc, 2300, ["python3", "-c", "pass"], ppid=1)
    drm_fd(child, 5, "/dev/dri/renderD128", AMDGPU)  # ... and passed to another process: still once
    (child / "fd" / "6").symlink_to("/dev/null")
    arc = write_process(proc, 3100, ["llama-server", "-m", "x.gguf"])
    drm_fd(arc, 7, "/dev/dri/renderD129", XE)
    gpus = [GpuSample(vendor="amd", index=0, source="sysfs", pci_bus_id="0000:08:00.0"),
            GpuSample(vendor="intel", index=1, source="sysfs", pci_bus_id="0000:03:00.0"),
            GpuSample(vendor="amd", index=2, source="sysfs", pci_bus_id="0000:0c:00.0")]
    amd, intel, idle = attribute(gpus, Context(env={}, proc_root=str(proc)))
    (holder,) = amd.processes or ()
    assert (holder.pid, holder.memory_used_bytes, holder.memory_shared_used_bytes, holder.source) == (
        2217, 2068 * 1024, 8192 * 1024, "fdinfo")
    assert (holder.engine, holder.model) == ("vllm", "m")  # then attributed as any holder
    (server,) = intel.processes or ()
    assert (server.pid, server.memory_used_bytes, server.engine) == (3100, 1 << 30, "llama.cpp")
    assert idle.processes == ()  # looked at every process: none holds it


def test_a_gpu_whose_driver_listed_processes_is_not_scanned(tmp_path: Path) -> None:
    proc = proc_root(tmp_path / "proc")
    drm_fd(write_process(proc, 2217, ["python3"]), 99, "/dev/dri/renderD128", AMDGPU)
    listed = GpuSample(vendor="amd", index=0, source="amdsmi", pci_bus_id="0000:08:00.0", processes=())
    (gpu,) = attribute([listed], Context(env={}, proc_root=str(proc)))
    assert gpu.processes == ()
