"""Vendor detection and merging in the collection core: every GPU of every vendor, one row per GPU."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from support.paths import DATA, FAKES

from flockops.agent.chain import collect_host, merge_gpu
from flockops.agent.driver import Context, Driver
from flockops.agent.model import GpuSample, TemperatureReading
from flockops.errors import DriverUnavailable

ROCM_CASES = DATA / "rocm-smi" / "cases"
SMI_CASES = DATA / "nvidia-smi" / "cases"


def only_fakes(tmp_path: Path, *tools: str) -> str:
    """A PATH with only the named fake tools on it (tests/fakes holds fakes of every vendor)."""
    bin_dir = tmp_path / "fakes"
    bin_dir.mkdir()
    for tool in tools:
        (bin_dir / tool).symlink_to(FAKES / tool)
    return f"{bin_dir}:/usr/bin:/bin"


def _amd_card(root: Path, slot: str, files: dict[str, str], hwmon: dict[str, str]) -> None:
    device = root / "class" / "drm" / "card0" / "device"
    (device / "hwmon" / "hwmon2").mkdir(parents=True)
    (device / "uevent").write_text(f"DRIVER=amdgpu\nPCI_CLASS=30000\nPCI_ID=1002:73DF\nPCI_SLOT_NAME={slot}\n")
    for name, text in files.items():
        (device / name).write_text(text)
    for name, text in hwmon.items():
        (device / "hwmon" / "hwmon2" / name).write_text(text)


def test_sysfs_fills_what_rocm_smi_lacked(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    # The RX 6700 XT of the ROCm 6.0.2 capture (power "N/A (Secondary die)", no temperature
    # limits), and its sysfs files at the same PCI address.
    sysfs = tmp_path / "sys"
    _amd_card(sysfs, "0000:07:00.0", {"mem_info_vram_total": "12868124672\n", "mem_info_vram_used": "1\n"},
              {"temp1_input": "45000\n", "temp1_label": "edge\n", "temp1_crit": "100000\n",
               "temp1_emergency": "105000\n", "power1_average": "6000000\n", "power1_cap": "211000000\n"})
    host = flockops("report", "-o", "json", env={
        "FAKE_ROCM_SMI_CASE": str(ROCM_CASES / "rx6700xt-rocm602"), "PATH": only_fakes(tmp_path, "rocm-smi"),
        "FLOCKOPS_SYSFS_ROOT": str(sysfs)}).json()["hosts"][0]
    (gpu,) = host["gpus"]
    assert gpu["source"] == "rocm-smi"
    assert gpu["memory_used_bytes"] == 1572757504  # rocm-smi's own value is kept
    assert gpu["power_w"] == 6.0 and gpu["field_errors"]["power_w"] == "N/A (Secondary die)"
    assert gpu["temperature_slowdown_c"] == 100.0 and gpu["temperature_shutdown_c"] == 105.0
    assert gpu["merged_from"] == {"power_w": "sysfs", "temperature_slowdown_c": "sysfs",
                                  "temperature_shutdown_c": "sysfs"}
    outcomes = {d["name"]: (d["outcome"], d["reason"]) for d in host["drivers"]}
    assert outcomes["rocm-smi"] == ("used", None)
    assert outcomes["sysfs-amd"] == ("used", "supplemented: 3 field(s) rocm-smi lacked")
    assert host["status"] == "ok", host["errors"]


def test_mixed_vendor_host_lists_every_gpu(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    sysfs = tmp_path / "sys"
    shutil.copytree(DATA / "sysfs" / "intel-a380-xe", sysfs)
    shutil.copytree(DATA / "sysfs" / "amd-rx6900xt" / "class" / "drm" / "card0", sysfs / "class" / "drm" / "card1")
    host = flockops("report", "-o", "json", env={
        "FAKE_NVIDIA_SMI_CASE": str(SMI_CASES / "h200-load"), "PATH": only_fakes(tmp_path, "nvidia-smi"),
        "FLOCKOPS_SYSFS_ROOT": str(sysfs)}).json()["hosts"][0]
    assert sorted((g["vendor"], g["source"]) for g in host["gpus"]) == [
        ("amd", "sysfs"), ("intel", "sysfs"), ("nvidia", "nvidia-smi")]
    assert host["status"] == "ok"


def test_no_rocm_still_reports_amd_from_sysfs(flockops) -> None:  # type: ignore[no-untyped-def]
    host = flockops("report", "-o", "json", env={"FLOCKOPS_SYSFS_ROOT": str(DATA / "sysfs" / "amd-vega56")}
                    ).json()["hosts"][0]
    outcomes = {d["name"]: d for d in host["drivers"]}
    assert [outcomes[n]["outcome"] for n in ("amdsmi", "amd-smi", "rocm-smi", "sysfs-amd")] == [
        "unavailable", "unavailable", "unavailable", "used"]
    assert "not found" in outcomes["rocm-smi"]["reason"]
    assert [g["memory_total_bytes"] for g in host["gpus"]] == [8573157376]


def _pci(root: Path, slot: str, vendor: str, pci_class: str) -> None:
    device = root / "bus" / "pci" / "devices" / slot
    device.mkdir(parents=True)
    (device / "vendor").write_text(f"{vendor}\n")
    (device / "class").write_text(f"{pci_class}\n")


def test_a_gpu_on_the_bus_that_no_driver_reads_is_an_error(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    sysfs = tmp_path / "sys"
    _pci(sysfs, "0000:02:00.0", "0x1a03", "0x030000")  # the BMC's ASPEED VGA: not ours, no error
    _pci(sysfs, "0000:17:00.0", "0x10de", "0x030200")  # an NVIDIA 3D controller, nouveau or no driver
    _pci(sysfs, "0000:18:00.0", "0x10de", "0x040300")  # its audio function: not a display controller
    host = flockops("report", "-o", "json", env={"FLOCKOPS_SYSFS_ROOT": str(sysfs)}).json()["hosts"][0]
    (error,) = host["errors"]
    assert error["kind"] == "driver" and error["source"] == "pci"
    assert error["message"].startswith("an NVIDIA GPU is on the PCI bus but no driver reported it (nvml: ")
    assert "nvidia-smi: nvidia-smi not found" in error["message"]
    assert host["status"] == "partial"


def test_a_driver_asked_for_that_cannot_read_the_gpu_on_the_bus_is_no_ok(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    # `--driver nvidia-smi` with NVIDIA cards on the PCI bus and nvidia-smi failing said "[ok] No GPU detected".
    sysfs = tmp_path / "sys"
    _pci(sysfs, "0000:17:00.0", "0x10de", "0x030200")
    _pci(sysfs, "0000:65:00.0", "0x1002", "0x030000")  # an AMD card nobody asked about: not named
    env = {"FLOCKOPS_SYSFS_ROOT": str(sysfs), "FAKE_NVIDIA_SMI_CASE": str(DATA / "nvidia-smi" / "cases" /
                                                                        "error-driver-not-loaded"),
           "PATH": f"{FAKES}:/usr/bin:/bin"}
    run = flockops("report", "-o", "json", "--driver", "nvidia-smi", env=env)
    host = run.json()["hosts"][0]
    (error,) = host["errors"]
    assert error["message"].startswith("an NVIDIA GPU is on the PCI bus but no driver reported it (nvidia-smi: "
                                       "nvidia-smi couldn't communicate with the NVIDIA driver")
    assert "nvml" not in error["message"]  # skipped, not tried
    assert host["status"] == "partial"
    table = flockops("report", "--driver", "nvidia-smi", "--no-ollama", env=env)
    assert "[partial]" in table.stdout and "[ok]" not in table.stdout


class _Fixed(Driver):
    def __init__(self, name: str, vendor: str, priority: int, gpus: Sequence[GpuSample],
                 supplements: bool = False) -> None:
        self.name, self.vendor, self.priority = name, vendor, priority  # type: ignore[misc]
        self.supplements = supplements  # type: ignore[misc]
        self._gpus = gpus

    def probe(self, ctx: Context) -> None:
        pass

    def collect(self, ctx: Context) -> Sequence[GpuSample]:
        if not self._gpus:
            raise DriverUnavailable("nothing")
        return self._gpus


def _gpu(source: str, bus: str | None, **values: object) -> GpuSample:
    return GpuSample(vendor="amd", index=0, source=source, pci_bus_id=bus, **values)  # type: ignore[arg-type]


def test_detection_never_vetoes_a_driver_that_answers(tmp_path: Path) -> None:
    # No PCI bus visible at all (a container): the library's answer stands.
    ctx = Context(env={}, sysfs_root=str(tmp_path / "nothing"))
    host = collect_host([_Fixed("lib", "amd", 10, [_gpu("lib", "0000:03:00.0", memory_total_bytes=1)])], ctx)
    assert [g.source for g in host.gpus] == ["lib"] and host.errors == ()


class _BrokenSysfs(Context):
    def list_dir(self, path: str) -> list[str]:
        raise RuntimeError(f"cannot walk {path}")


def test_a_failed_bus_check_is_said_and_costs_nothing_else(tmp_path: Path) -> None:
    ctx = _BrokenSysfs(env={}, sysfs_root=str(tmp_path))
    host = collect_host([_Fixed("lib", "amd", 10, [_gpu("lib", "0000:03:00.0", memory_total_bytes=1)])], ctx)
    assert [g.source for g in host.gpus] == ["lib"]
    assert [(e.kind, e.source) for e in host.errors] == [("driver", "pci")]
    assert "could not look for GPUs" in host.errors[0].message and "RuntimeError: cannot walk" in host.errors[0].message


def test_supplement_adds_gpus_the_answering_driver_missed_and_matches_bus_ids_loosely(tmp_path: Path) -> None:
    ctx = Context(env={}, sysfs_root=str(tmp_path))
    tool = _Fixed("tool", "amd", 20, [_gpu("tool", "00000000:03:00.0", power_w=None)])
    files = _Fixed("files", "amd", 40, [_gpu("files", "0000:03:00.0", power_w=50.0),
                                        _gpu("files", "0000:c1:00.0", memory_shared=True)], supplements=True)
    host = collect_host([files, tool], ctx)
    assert [(g.source, g.index, g.pci_bus_id, g.power_w) for g in host.gpus] == [
        ("tool", 0, "00000000:03:00.0", 50.0), ("files", 1, "0000:c1:00.0", None)]
    assert host.gpus[0].merged_from == {"power_w": "files"}
    assert host.drivers[1].reason == "supplemented: 1 field(s) tool lacked, 1 GPU(s) tool did not list"


def test_merge_keeps_what_the_primary_measured() -> None:
    primary = _gpu("amd-smi", "0000:03:00.0", temperature_c=60.0, temperature_sensor="junction",
                   memory_total_bytes=10, temperatures=(TemperatureReading("junction", 60.0),))
    extra = _gpu("sysfs", "0000:03:00.0", temperature_c=50.0, temperature_sensor="edge", temperature_slowdown_c=90.0,
                 memory_total_bytes=20, memory_used_bytes=5, memory_shared=True,
                 temperatures=(TemperatureReading("edge", 50.0, 90.0),))
    merged = merge_gpu(primary, extra)
    assert merged.temperature_c == 60.0 and merged.temperature_slowdown_c is None  # another sensor's limit: no
    assert merged.memory_total_bytes == 10 and merged.memory_used_bytes == 5 and merged.memory_shared
    assert merged.temperatures == primary.temperatures
    assert merged.merged_from == {"memory_used_bytes": "sysfs", "memory_shared": "sysfs"}
    assert merge_gpu(primary, _gpu("sysfs", "x")) is primary
