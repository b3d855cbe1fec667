"""AMD GPUs through the ``amdsmi`` Python package (ROCm's AMD SMI library): first choice for AMD.

The package is an optional extra (``pip install 'flockops[amd]'``) and needs ROCm's
``libamd_smi.so`` on the host (found through ``ROCM_PATH``/``ROCM_HOME`` + ``/lib`` or the
loader path). Without it, ``import amdsmi`` **prints two lines to stdout** and raises
``KeyError``, not ImportError (amdsmi 6.x-7.x ``amdsmi_wrapper.py``): so the import is lazy,
inside ``try/except Exception``, with stdout redirected, or ``-o json`` would be corrupted.

Errors are sorted as in the NVML driver: the package or library missing, or ``amdsmi_init``
refused (amdgpu not loaded, no permission): unavailable, the chain falls back to amd-smi,
rocm-smi, sysfs; one GPU that cannot be read: that GPU is lost, others go on; one field:
None, with the reason in ``field_errors``.

Units (``amdsmi_interface.py``, 7.0.2): memory in bytes; temperatures in °C (values above
1000 are taken as millidegrees, which some library releases returned); ``power_info``
in W; ``power_cap_info`` in µW. Do not use ``pyrsmi``: it breaks when amdsmi is installed
without ROCm.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from types import ModuleType

from flockops.errors import DriverFailed, DriverUnavailable

from ..driver import Context, Driver
from ..model import GpuSample, TemperatureReading

# typing is slow to import and the probe never needs it: annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar
    T = TypeVar("T")

SOURCE = "amdsmi"

# amdsmi_get_violation_status "active_*" flags (MI300+) -> throttle reason names.
VIOLATIONS = (
    ("active_ppt_pwr", "power_cap"),  # PVIOL: package power tracking
    ("active_socket_thrm", "socket_thermal"),  # TVIOL
    ("active_prochot_thrm", "prochot_thermal"),
    ("active_vr_thrm", "vr_thermal"),
    ("active_hbm_thrm", "hbm_thermal"),
)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence stdout, Python's and file descriptor 1's (the C library may print too)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        saved = -1
    try:
        if saved >= 0:
            with open(os.devnull, "wb") as devnull:
                os.dup2(devnull.fileno(), 1)
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if saved >= 0:
            os.dup2(saved, 1)
            os.close(saved)


# Where amdsmi_wrapper.find_smi_library() looks, plus the loader's usual directories.
LIBRARY = "libamd_smi.so"
SYSTEM_LIB_DIRS = ("/opt/rocm/lib", "/usr/lib", "/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/local/lib")


def library_dirs(env: Mapping[str, str], package_dir: str | None) -> list[str]:
    dirs = [os.path.join(env[name], "lib") for name in ("ROCM_HOME", "ROCM_PATH") if env.get(name)]
    dirs += [d for d in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if d]
    if package_dir:
        dirs.append(package_dir)
    return [*dirs, *SYSTEM_LIB_DIRS]


def find_library(env: Mapping[str, str]) -> str | None:
    """libamd_smi.so's path, without importing amdsmi (a failed import is slow, and prints)."""
    spec = importlib.util.find_spec("amdsmi")
    if spec is None:
        raise DriverUnavailable("the amdsmi package is not installed (pip install 'flockops[amd]')")
    package_dir = os.path.dirname(spec.origin) if spec.origin else None
    for directory in library_dirs(env, package_dir):
        candidate = os.path.join(directory, LIBRARY)
        if os.path.exists(candidate):
            return candidate
    return None


def import_amdsmi(env: Mapping[str, str] | None = None) -> ModuleType:
    """The amdsmi module, or DriverUnavailable saying why it cannot be used here."""
    if sys.modules.get("amdsmi") is None and find_library(os.environ if env is None else env) is None:
        raise DriverUnavailable(
            f"ROCm's {LIBRARY} not found (ROCM_PATH/lib, /opt/rocm/lib, LD_LIBRARY_PATH): "
            "the amdsmi package needs it; install ROCm's amd-smi-lib")
    try:
        with _quiet():
            return importlib.import_module("amdsmi")
    except ModuleNotFoundError as exc:
        if exc.name == "amdsmi":
            raise DriverUnavailable("the amdsmi package is not installed (pip install 'flockops[amd]')") from None
        raise DriverUnavailable(f"the amdsmi package cannot be imported: {exc}") from None
    except Exception as exc:  # without ROCm: KeyError from the ctypes binding, after printing
        raise DriverUnavailable(
            f"the amdsmi package cannot load ROCm's libamd_smi.so ({type(exc).__name__}: {exc}); "
            "install ROCm's amd-smi-lib or set ROCM_PATH") from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    text = text.strip()
    return None if not text or text.upper() == "N/A" else text


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # "N/A", or a struct the caller did not expect
    return float(value)


def _celsius(value: Any) -> float | None:
    number = _num(value)
    if number is not None and number > 1000:
        number /= 1000.0
    return number


class _Reader:
    """Reads one field; an amdsmi error becomes None plus a note in ``errors``."""

    def __init__(self, amdsmi: ModuleType) -> None:
        self.amdsmi = amdsmi
        self.errors: dict[str, str] = {}

    def get(self, field: str, fn: Callable[..., T], *args: Any) -> T | None:
        try:
            return fn(*args)
        except self.amdsmi.AmdSmiException as exc:
            self.errors[field] = _error_text(exc)
        except Exception as exc:  # another binding's surprise (TypeError, ValueError): this field's only
            self.errors[field] = f"{type(exc).__name__}: {exc}"
        return None


def _error_text(exc: BaseException) -> str:
    info = getattr(exc, "get_error_info", None)
    if callable(info):
        with contextlib.suppress(Exception):
            return " ".join(str(info()).split())
    return " ".join(f"{type(exc).__name__}: {exc}".split())  # one line, whatever the library wrote


def _temperatures(r: _Reader, handle: Any) -> tuple[TemperatureReading, ...]:
    amd = r.amdsmi
    kinds, metrics = amd.AmdSmiTemperatureType, amd.AmdSmiTemperatureMetric
    readings = []
    for kind, sensor in ((kinds.EDGE, "edge"), (kinds.HOTSPOT, "junction"), (kinds.VRAM, "mem")):
        values = [_celsius(r.get(f"temperatures.{sensor}{suffix}", amd.amdsmi_get_temp_metric, handle, kind, metric))
                  for suffix, metric in (("", metrics.CURRENT), (".critical_c", metrics.CRITICAL),
                                         (".emergency_c", metrics.EMERGENCY))]
        if any(v is not None for v in values):
            readings.append(TemperatureReading(sensor, *values))
    return tuple(readings)


def _throttle(r: _Reader, handle: Any) -> tuple[str, ...] | None:
    fn = getattr(r.amdsmi, "amdsmi_get_violation_status", None)
    if fn is None:
        return None
    status = r.get("throttle_reasons", fn, handle)
    if not isinstance(status, dict):
        return None
    flags = [(name, status.get(key)) for key, name in VIOLATIONS]
    if all(not isinstance(value, bool) for _, value in flags):
        return None  # every flag "N/A": the part does not report violations
    return tuple(name for name, value in flags if value is True)


def _read_gpu(amd: ModuleType, handle: Any, base: GpuSample) -> GpuSample:
    r = _Reader(amd)
    asic = r.get("name", amd.amdsmi_get_gpu_asic_info, handle) or {}
    values: dict[str, Any] = {
        "name": _text(asic.get("market_name")),
        "uuid": _text(r.get("uuid", amd.amdsmi_get_gpu_device_uuid, handle)),
        "pci_bus_id": _text(r.get("pci_bus_id", amd.amdsmi_get_gpu_device_bdf, handle)),
    }
    vram = amd.AmdSmiMemoryType.VRAM
    total = _num(r.get("memory_total_bytes", amd.amdsmi_get_gpu_memory_total, handle, vram))
    used = _num(r.get("memory_used_bytes", amd.amdsmi_get_gpu_memory_usage, handle, vram))
    values["memory_total_bytes"] = None if total is None else int(total)
    values["memory_used_bytes"] = None if used is None else int(used)
    if total is not None and used is not None:
        values["memory_free_bytes"] = int(total - used)
    activity = r.get("utilization_pct", amd.amdsmi_get_gpu_activity, handle) or {}
    gfx, umc = _num(activity.get("gfx_activity")), _num(activity.get("umc_activity"))
    values["utilization_pct"] = None if gfx is None else int(gfx)
    values["memory_utilization_pct"] = None if umc is None else int(umc)
    readings = _temperatures(r, handle)
    by_sensor = {t.sensor: t for t in readings if t.temperature_c is not None}
    chosen = by_sensor.get("edge") or by_sensor.get("junction")
    if chosen is not None:
        values.update(temperature_c=chosen.temperature_c, temperature_slowdown_c=chosen.critical_c,
                      temperature_shutdown_c=chosen.emergency_c, temperature_sensor=chosen.sensor)
        if chosen.sensor != "edge":
            r.errors["temperature_c"] = "no edge temperature (MI300A has none): temperature_c is junction"
    values["temperatures"] = readings
    power = r.get("power_w", amd.amdsmi_get_power_info, handle) or {}
    values["power_w"] = next((v for v in (_num(power.get(k)) for k in
                                          ("socket_power", "average_socket_power", "current_socket_power"))
                              if v is not None), None)
    cap = r.get("power_limit_w", amd.amdsmi_get_power_cap_info, handle) or {}
    cap_uw = _num(cap.get("power_cap"))
    values["power_limit_w"] = None if cap_uw is None else cap_uw / 1_000_000.0
    values["throttle_reasons"] = _throttle(r, handle)
    driver = r.get("driver_version", amd.amdsmi_get_gpu_driver_info, handle) or {}
    values["driver_version"] = _text(driver.get("driver_version"))
    return replace(base, field_errors=r.errors, **values)


class AmdsmiDriver(Driver):
    """AMD GPUs through ROCm's AMD SMI library (the amdsmi Python package)."""

    name = SOURCE
    vendor = "amd"
    priority = 10

    def _init(self, ctx: Context) -> ModuleType:
        amd = import_amdsmi(ctx.env)
        try:
            with _quiet():
                amd.amdsmi_init(amd.AmdSmiInitFlags.INIT_AMD_GPUS)
        except Exception as exc:
            raise DriverUnavailable(f"amdsmi could not start: {_error_text(exc)}") from None
        return amd

    def probe(self, ctx: Context) -> None:
        amd = self._init(ctx)
        with contextlib.suppress(Exception):
            amd.amdsmi_shut_down()

    def collect(self, ctx: Context) -> Sequence[GpuSample]:
        amd = self._init(ctx)
        try:
            try:
                handles = list(amd.amdsmi_get_processor_handles())
            except amd.AmdSmiException as exc:  # the library's multi-line text, said once
                raise DriverFailed(f"amdsmi could not list the GPUs: {_error_text(exc)}") from None
            if not handles:
                raise DriverUnavailable("amdsmi is loaded but sees no AMD GPU")
            gpus = []
            for index, handle in enumerate(handles):
                base = GpuSample(vendor="amd", index=index, source=SOURCE)
                try:
                    gpus.append(_read_gpu(amd, handle, base))
                except Exception as exc:  # one unreadable GPU must not hide the others
                    gpus.append(replace(base, lost=True, lost_reason=f"could not be read: {_error_text(exc)}"))
            return gpus
        finally:
            with contextlib.suppress(Exception):
                amd.amdsmi_shut_down()
