"""NVIDIA through NVML (the ``pynvml`` module of the ``nvidia-ml-py`` package): first choice.

Errors are sorted by level (nvml.h return codes):
- init level (library not found 12, driver not loaded 9, version mismatch 18, blocked by
  the OS 17, no permission 4): the driver is unavailable and the chain falls back;
- device level (GPU lost 15, reset required 16): that GPU is marked lost, others go on;
- field level (not supported 3, no permission 4, function not found 13, anything else):
  that field is None and the reason is kept in ``field_errors``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from types import ModuleType

from flockops.errors import DriverUnavailable

from ..driver import Context, Driver
from ..model import GpuProcess, GpuSample, MigDevice, decode_throttle_reasons

# typing is slow to import and the probe never needs it: annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar
    T = TypeVar("T")


# nvml.h return codes used below.
NOT_SUPPORTED = 3
NO_PERMISSION = 4
NOT_FOUND = 6
DRIVER_NOT_LOADED = 9
LIBRARY_NOT_FOUND = 12
FUNCTION_NOT_FOUND = 13
GPU_IS_LOST = 15
RESET_REQUIRED = 16
OPERATING_SYSTEM = 17
LIB_RM_VERSION_MISMATCH = 18

INIT_REASONS = {
    LIBRARY_NOT_FOUND: "libnvidia-ml.so.1 not found: no NVIDIA driver is installed here",
    DRIVER_NOT_LOADED: "the NVIDIA kernel driver is not loaded (check `lsmod | grep nvidia`; "
    "load the module or reboot after installing the driver)",
    LIB_RM_VERSION_MISMATCH: "driver/library version mismatch: the loaded kernel module and "
    "libnvidia-ml differ, usually after a driver upgrade; reboot or reload the nvidia module",
    OPERATING_SYSTEM: "NVML was blocked by the operating system (a container without GPU access?)",
    NO_PERMISSION: "no permission to use NVML (check /dev/nvidia* permissions)",
}

FIELD_REASONS = {
    NOT_SUPPORTED: "not supported",
    NO_PERMISSION: "no permission",
    FUNCTION_NOT_FOUND: "not in this driver's NVML",
}

# nvmlMemory_v2's version word: struct size 40, version 2 (nvml.h NVML_STRUCT_VERSION).
MEMORY_V2 = 0x02000028


class _GpuGone(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _import_pynvml() -> ModuleType:
    # Loading the library first is cheap and answers "no NVIDIA driver here" without
    # compiling pynvml (about 8,000 lines; the remote probe compiles it on every run).
    # The loaded library is the one pynvml's own CDLL("libnvidia-ml.so.1") then finds.
    import ctypes

    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        raise DriverUnavailable(INIT_REASONS[LIBRARY_NOT_FOUND]) from None
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        raise DriverUnavailable("the nvidia-ml-py package (module pynvml) is not installed") from None


def _init(pynvml: ModuleType) -> None:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        code: int = getattr(exc, "value", -1)
        reason = INIT_REASONS.get(code, f"NVML could not start: {_text(exc)} (code {code})")
        raise DriverUnavailable(reason) from None


class _Reader:
    """Reads one GPU's fields; a field error becomes None plus a note in ``errors``."""

    def __init__(self, pynvml: ModuleType) -> None:
        self.nv = pynvml
        self.errors: dict[str, str] = {}

    def get(self, field: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        nv = self.nv
        try:
            return fn(*args, **kwargs)
        except nv.NVMLError as exc:
            code: int = getattr(exc, "value", -1)
            if code in (GPU_IS_LOST, RESET_REQUIRED):
                raise _GpuGone("GPU is lost" if code == GPU_IS_LOST else "GPU requires reset") from None
            self.errors[field] = FIELD_REASONS.get(code, _text(exc))
        except nv.NVMLLibraryMismatchError as exc:  # not an NVMLError subclass
            self.errors[field] = f"binding/library mismatch: {exc}"
        except Exception as exc:  # another binding's surprise (TypeError, ValueError): this field's only
            self.errors[field] = f"{type(exc).__name__}: {exc}"
        return None


def _processes(r: _Reader, ctx: Context, handle: Any) -> tuple[GpuProcess, ...] | None:
    nv = r.nv
    lists = [
        r.get("processes", nv.nvmlDeviceGetComputeRunningProcesses, handle),
        r.get("processes", nv.nvmlDeviceGetGraphicsRunningProcesses, handle),
    ]
    if all(found is None for found in lists):
        return None
    r.errors.pop("processes", None)  # one of the two lists answered
    by_pid: dict[int, int | None] = {}
    for found in lists:
        for proc in found or ():
            used = proc.usedGpuMemory  # pynvml turns NVML_VALUE_NOT_AVAILABLE into None
            # A process both computing and drawing appears in both lists with the same memory.
            previous = by_pid.get(proc.pid)
            by_pid[proc.pid] = used if previous is None else max(previous, used or 0)
    return tuple(
        GpuProcess(pid=pid, name=ctx.process_name(pid), memory_used_bytes=used)
        for pid, used in sorted(by_pid.items())
    )


def _mig_devices(r: _Reader, handle: Any) -> tuple[bool | None, tuple[MigDevice, ...]]:
    nv = r.nv
    mode = r.get("mig_enabled", nv.nvmlDeviceGetMigMode, handle)
    if mode is None:
        r.errors.pop("mig_enabled", None)  # most GPUs have no MIG at all: not worth a note
        return None, ()
    if not mode[0]:
        return False, ()
    count = r.get("mig_devices", nv.nvmlDeviceGetMaxMigDeviceCount, handle) or 0
    devices: list[MigDevice] = []
    for slot in range(count):
        try:
            mig = nv.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
        except nv.NVMLError as exc:
            if getattr(exc, "value", None) == NOT_FOUND:
                continue  # an empty slot
            r.errors[f"mig_devices[{slot}]"] = _text(exc)
            continue
        memory = r.get(f"mig_devices[{slot}].memory", nv.nvmlDeviceGetMemoryInfo, mig)
        devices.append(
            MigDevice(
                index=slot,
                name=r.get(f"mig_devices[{slot}].name", nv.nvmlDeviceGetName, mig),
                uuid=r.get(f"mig_devices[{slot}].uuid", nv.nvmlDeviceGetUUID, mig),
                memory_total_bytes=memory.total if memory else None,
                memory_used_bytes=memory.used if memory else None,
                memory_free_bytes=memory.free if memory else None,
            )
        )
    return True, tuple(devices)


def _throttle(r: _Reader, handle: Any) -> tuple[str, ...] | None:
    nv = r.nv
    # Renamed "event reasons" in recent drivers; older drivers know only "throttle".
    for name in ("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"):
        fn = getattr(nv, name, None)
        if fn is None:
            continue
        mask = r.get("throttle_reasons", fn, handle)
        if mask is not None:
            r.errors.pop("throttle_reasons", None)
            return decode_throttle_reasons(int(mask))
    return None


def _watts(milliwatts: int | None) -> float | None:
    return None if milliwatts is None else milliwatts / 1000.0


def _cuda_version(nv: ModuleType) -> str | None:
    try:
        raw = int(nv.nvmlSystemGetCudaDriverVersion())  # e.g. 12040 for CUDA 12.4
    except (nv.NVMLError, AttributeError, TypeError, ValueError):
        return None
    return f"{raw // 1000}.{raw % 1000 // 10}"


def _sample(nv: ModuleType, ctx: Context, base: GpuSample) -> GpuSample:
    try:
        return _read_gpu(nv, ctx, base)
    except Exception as exc:  # one unreadable GPU must not hide the others
        return replace(base, lost=True, lost_reason=f"could not be read: {type(exc).__name__}: {exc}")


def _read_gpu(nv: ModuleType, ctx: Context, base: GpuSample) -> GpuSample:
    r = _Reader(nv)
    try:
        handle = nv.nvmlDeviceGetHandleByIndex(base.index)
    except nv.NVMLError as exc:
        code: int = getattr(exc, "value", -1)
        reason = {GPU_IS_LOST: "GPU is lost (fallen off the bus?)", RESET_REQUIRED: "GPU requires reset"}
        return replace(base, lost=True, lost_reason=reason.get(code, f"cannot open the GPU: {_text(exc)}"))
    identity: dict[str, Any] = {}
    try:
        for field, fn in (("name", nv.nvmlDeviceGetName), ("uuid", nv.nvmlDeviceGetUUID)):
            value = r.get(field, fn, handle)
            identity[field] = None if value is None else _text(value)
        pci = r.get("pci_bus_id", nv.nvmlDeviceGetPciInfo, handle)
        identity["pci_bus_id"] = None if pci is None else _text(pci.busId)
        values = _measure(r, ctx, handle)
    except _GpuGone as gone:
        # A lost GPU keeps its index and whatever identity was read before it went.
        return replace(base, lost=True, lost_reason=gone.reason, **identity)
    return replace(base, field_errors=r.errors, **identity, **values)


def _measure(r: _Reader, ctx: Context, handle: Any) -> dict[str, Any]:
    nv = r.nv
    values: dict[str, Any] = {}
    memory = r.get("memory", nv.nvmlDeviceGetMemoryInfo, handle, version=MEMORY_V2)
    if memory is not None:
        # v2 "used" excludes the driver's reserved memory, as nvidia-smi reports it.
        values.update(memory_total_bytes=memory.total, memory_reserved_bytes=memory.reserved,
                      memory_used_bytes=memory.used, memory_free_bytes=memory.free)
    else:
        r.errors.pop("memory", None)
        memory = r.get("memory", nv.nvmlDeviceGetMemoryInfo, handle)
        if memory is not None:
            r.errors["memory_reserved_bytes"] = "this driver has no nvmlDeviceGetMemoryInfo_v2"
            values.update(memory_total_bytes=memory.total, memory_used_bytes=memory.used,
                          memory_free_bytes=memory.free, memory_used_includes_reserved=True)
    rates = r.get("utilization_pct", nv.nvmlDeviceGetUtilizationRates, handle)
    if rates is not None:
        values.update(utilization_pct=rates.gpu, memory_utilization_pct=rates.memory)
    values["temperature_c"] = r.get("temperature_c", nv.nvmlDeviceGetTemperature, handle, 0)
    for field, kind in (("temperature_slowdown_c", 1), ("temperature_shutdown_c", 0),
                        ("temperature_max_operating_c", 3)):
        values[field] = r.get(field, nv.nvmlDeviceGetTemperatureThreshold, handle, kind)
    values["power_w"] = _watts(r.get("power_w", nv.nvmlDeviceGetPowerUsage, handle))
    values["power_limit_w"] = _watts(r.get("power_limit_w", nv.nvmlDeviceGetEnforcedPowerLimit, handle))
    values["fan_pct"] = r.get("fan_pct", nv.nvmlDeviceGetFanSpeed, handle)
    values["throttle_reasons"] = _throttle(r, handle)
    values["processes"] = _processes(r, ctx, handle)
    values["mig_enabled"], values["mig_devices"] = _mig_devices(r, handle)
    return values


class NvmlDriver(Driver):
    """NVIDIA GPUs through NVML, the library nvidia-smi itself uses."""

    name = "nvml"
    vendor = "nvidia"
    priority = 10

    def probe(self, ctx: Context) -> None:
        nv = _import_pynvml()
        _init(nv)
        nv.nvmlShutdown()

    def collect(self, ctx: Context) -> Sequence[GpuSample]:
        nv = _import_pynvml()
        _init(nv)
        try:
            try:
                driver_version: str | None = _text(nv.nvmlSystemGetDriverVersion())
            except nv.NVMLError:
                driver_version = None
            cuda_version = _cuda_version(nv)
            count = nv.nvmlDeviceGetCount()
            if count == 0:
                raise DriverUnavailable("NVML is loaded but sees no NVIDIA GPU")
            return [
                _sample(nv, ctx, GpuSample(vendor="nvidia", index=index, source="nvml",
                                           driver_version=driver_version, cuda_driver_version=cuda_version))
                for index in range(count)
            ]
        finally:
            with contextlib.suppress(nv.NVMLError):
                nv.nvmlShutdown()
