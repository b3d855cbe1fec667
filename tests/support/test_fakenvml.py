"""The fake libnvidia-ml.so.1, proven through the real pynvml, gpustat and nvitop.

Each check runs a short Python snippet in a subprocess (pynvml keeps the first
NVML library it loads for the life of the process) and reads back JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support.nvml import LIB_NAME, SOURCE, build_fake_nvml, nvml_env, write_config
from support.paths import TESTS

from .units import GIB

BIN = Path(sys.executable).parent

H100 = {
    "name": "NVIDIA H100 80GB HBM3",
    "uuid": "GPU-3f1c0000-1111-2222-3333-444444444444",
    "pci_bus_id": "00000000:00:09.0",
    "serial": "1320123456789",
    "memory_total": 85520809984,
    "memory_reserved": 502267904,
    "memory_used": 61865984,
    "memory_free": 84956676096,
    "util_gpu": 45,
    "util_memory": 12,
    "temperature": 62,
    "temp_shutdown": 92,
    "temp_slowdown": 89,
    "temp_gpu_max": 87,
    "temp_mem_max": 95,
    "power_mw": 250000,
    "power_limit_mw": 350000,
    "fan": 30,
    "clocks_event_reasons": 0x44,
}


@pytest.fixture(scope="module")
def fake_lib(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The library conftest.py builds once per session (or our own build without it)."""
    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler to build the fake NVML library")
    try:
        return Path(request.getfixturevalue("fake_nvml_dir")) / LIB_NAME
    except pytest.FixtureLookupError:  # no session fixture: build our own copy
        return build_fake_nvml(tmp_path_factory.mktemp("nvml"))


@pytest.fixture
def run_pynvml(fake_lib: Path, tmp_path: Path):
    """run_pynvml(code, gpus, **globals) -> the JSON the snippet prints last.

    The snippet runs with `import pynvml as N`, `json` and `cfg` (the config
    path) in scope.
    """

    def run(code: str, gpus: list[dict], **globals: object):
        cfg = write_config(tmp_path / "nvml.conf", gpus, **globals)
        prelude = f"import json, pynvml as N\ncfg = {str(cfg)!r}\n"
        proc = subprocess.run(
            [sys.executable, "-c", prelude + textwrap.dedent(code)],
            env={**os.environ, **nvml_env(fake_lib.parent, cfg)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return run


def test_compiles_without_warnings(tmp_path: Path) -> None:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    proc = subprocess.run(
        ["cc", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-O2", "-o", str(tmp_path / "x.so"), str(SOURCE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_identity_and_system(run_pynvml) -> None:
    out = run_pynvml(
        """
        N.nvmlInit()
        h = N.nvmlDeviceGetHandleByIndex(1)
        pci = N.nvmlDeviceGetPciInfo(h)
        print(json.dumps({
            "count": N.nvmlDeviceGetCount(),
            "name": N.nvmlDeviceGetName(h), "uuid": N.nvmlDeviceGetUUID(h),
            "serial": N.nvmlDeviceGetSerial(h), "index": N.nvmlDeviceGetIndex(h),
            # pynvml's structures decode c_char fields to str on attribute access
            "busId": pci.busId, "legacy": pci.busIdLegacy,
            "bdf": [pci.domain, pci.bus, pci.device],
            "by_uuid": N.nvmlDeviceGetIndex(N.nvmlDeviceGetHandleByUUID(H100_UUID)),
            "by_pci": N.nvmlDeviceGetIndex(N.nvmlDeviceGetHandleByPciBusId("0000:3B:00.0")),
            "driver": N.nvmlSystemGetDriverVersion(), "nvml": N.nvmlSystemGetNVMLVersion(),
            "cuda": N.nvmlSystemGetCudaDriverVersion(),
            "cuda2": N.nvmlSystemGetCudaDriverVersion_v2(),
            "err": N.nvmlErrorString(15),
        }))
        N.nvmlShutdown()
        """.replace("H100_UUID", repr(H100["uuid"] + "-b")),
        [{"name": "NVIDIA A100"}, {**H100, "uuid": H100["uuid"] + "-b", "pci_bus_id": "00000000:3b:00.0"}],
        driver_version="550.54.14",
        nvml_version="12.550.54.14",
        cuda_driver_version=12040,
    )
    assert out == {
        "count": 2,
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": H100["uuid"] + "-b",
        "serial": "1320123456789",
        "index": 1,
        "busId": "00000000:3B:00.0",
        "legacy": "0000:3B:00.0",
        "bdf": [0, 0x3B, 0],
        "by_uuid": 1,
        "by_pci": 1,
        "driver": "550.54.14",
        "nvml": "12.550.54.14",
        "cuda": 12040,
        "cuda2": 12040,
        "err": "GPU is lost",
    }


def test_memory_v2_v1_and_version_check(run_pynvml) -> None:
    out = run_pynvml(
        """
        N.nvmlInit()
        h = N.nvmlDeviceGetHandleByIndex(0)
        v2 = N.nvmlDeviceGetMemoryInfo(h, version=N.nvmlMemory_v2)
        v1 = N.nvmlDeviceGetMemoryInfo(h)
        try:
            N.nvmlDeviceGetMemoryInfo(h, version=0x01000028)
            bad = None
        except N.NVMLError as e:
            bad = type(e).__name__
        derived = N.nvmlDeviceGetMemoryInfo(N.nvmlDeviceGetHandleByIndex(1), version=N.nvmlMemory_v2)
        print(json.dumps({
            "v2": [v2.total, v2.reserved, v2.used, v2.free],
            "v1": [v1.total, v1.used, v1.free], "bad": bad,
            "derived": [derived.total, derived.reserved, derived.used, derived.free],
        }))
        """,
        [H100, {"memory_total": 80 * GIB, "memory_used": 10 * GIB}],
    )
    assert out["v2"] == [85520809984, 502267904, 61865984, 84956676096]
    assert out["v1"] == [85520809984, 61865984 + 502267904, 84956676096]
    assert out["bad"] == "NVMLError_ArgumentVersionMismatch"
    assert out["derived"] == [80 * GIB, 0, 10 * GIB, 70 * GIB]


def test_temperature_power_fan_utilization(run_pynvml) -> None:
    out = run_pynvml(
        """
        N.nvmlInit()
        h = N.nvmlDeviceGetHandleByIndex(0)
        def call(f, *a):
            try:
                return f(h, *a)
            except N.NVMLError as e:
                return type(e).__name__
        util = N.nvmlDeviceGetUtilizationRates(h)
        print(json.dumps({
            "temp": call(N.nvmlDeviceGetTemperature, N.NVML_TEMPERATURE_GPU),
            "tempV": call(N.nvmlDeviceGetTemperatureV, N.NVML_TEMPERATURE_GPU),
            "thresholds": [call(N.nvmlDeviceGetTemperatureThreshold, t) for t in (
                N.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN, N.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,
                N.NVML_TEMPERATURE_THRESHOLD_MEM_MAX, N.NVML_TEMPERATURE_THRESHOLD_GPU_MAX,
                N.NVML_TEMPERATURE_THRESHOLD_ACOUSTIC_MIN)],
            "power": call(N.nvmlDeviceGetPowerUsage),
            "enforced": call(N.nvmlDeviceGetEnforcedPowerLimit),
            "mgmt": call(N.nvmlDeviceGetPowerManagementLimit),
            "fan": call(N.nvmlDeviceGetFanSpeed),
            "util": [util.gpu, util.memory],
        }))
        """,
        [{**H100, "temp_mem_max": None}],
    )
    assert out["temp"] == 62
    assert out["tempV"] == 62
    assert out["thresholds"] == [92, 89, "NVMLError_NotSupported", 87, "NVMLError_NotSupported"]
    assert (out["power"], out["enforced"], out["mgmt"], out["fan"]) == (250000, 350000, 350000, 30)
    assert out["util"] == [45, 12]


def test_absent_fields_are_not_supported(run_pynvml) -> None:
    out = run_pynvml(
        """
        N.nvmlInit()
        h = N.nvmlDeviceGetHandleByIndex(0)
        names = ["nvmlDeviceGetUUID", "nvmlDeviceGetSerial", "nvmlDeviceGetPciInfo",
                 "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetUtilizationRates", "nvmlDeviceGetFanSpeed",
                 "nvmlDeviceGetPowerUsage", "nvmlDeviceGetEnforcedPowerLimit",
                 "nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetMigMode",
                 "nvmlDeviceGetTotalEccErrors", "nvmlSystemGetDriverVersion"]
        res = {}
        for n in names:
            f = getattr(N, n)
            try:
                if n == "nvmlDeviceGetTotalEccErrors":
                    f(h, 0, 0)
                elif n.startswith("nvmlSystem"):
                    f()
                else:
                    f(h)
                res[n] = "ok"
            except N.NVMLError as e:
                res[n] = type(e).__name__
        print(json.dumps(res))
        """,
        [{"name": "NVIDIA Tesla T4"}],
    )
    assert set(out.values()) == {"NVMLError_NotSupported"}, out


def test_clocks_event_reasons(run_pynvml) -> None:
    out = run_pynvml(
        """
        N.nvmlInit()
        h = N.nvmlDeviceGetHandleByIndex(0)
        print(json.dumps([
            N.nvmlDeviceGetCurrentClocksEventReasons(h),
            N.nvmlDeviceGetCurrentClocksThrottleReasons(h),
            N.nvmlDeviceGetSupportedClocksEventReasons(h),
            N.nvmlDeviceGetSupportedClocksThrottleReasons(h),
            N.nvmlClocksEventReasonSwPowerCap | N.nvmlClocksEventReasonHwThermalSlowdown,
        ]))
        """,
        [H100],
    )
    assert out == [0x44, 0x44, 0x1FF, 0x1FF, 0x44]


def test_processes(run_pynvml) -> None:
    out = run_pynvml(
        """
        N.nvmlInit()
        h0, h1 = N.nvmlDeviceGetHandleByIndex(0), N.nvmlDeviceGetHandleByIndex(1)
        rows = lambda ps: [[p.pid, p.usedGpuMemory, p.gpuInstanceId] for p in ps]
        print(json.dumps({
            "compute": rows(N.nvmlDeviceGetComputeRunningProcesses(h0)),
            "compute_v2": rows(N.nvmlDeviceGetComputeRunningProcesses_v2(h0)),
            "graphics": rows(N.nvmlDeviceGetGraphicsRunningProcesses(h0)),
            "idle": rows(N.nvmlDeviceGetComputeRunningProcesses(h1)),
            "idle_graphics": rows(N.nvmlDeviceGetGraphicsRunningProcesses_v2(h1)),
        }))
        """,
        [
            {**H100, "process": [(1234, 8 * GIB), (1235, None)], "graphics_process": [(2165, 26214400)]},
            {"name": "idle"},
        ],
    )
    no_instance = 0xFFFFFFFF
    assert out["compute"] == [[1234, 8 * GIB, no_instance], [1235, None, no_instance]]
    assert out["compute_v2"] == out["compute"]
    assert out["graphics"] == [[2165, 26214400, no_instance]]
    assert out["idle"] == [] and out["idle_graphics"] == []


def test_process_count_protocol(run_pynvml) -> None:
    """Raw C call: a too-small array gets INSUFFICIENT_SIZE and the real count."""
    out = run_pynvml(
        """
        from ctypes import byref, c_uint
        N.nvmlInit()
        h = N.nvmlDeviceGetHandleByIndex(0)
        fn = N._nvmlGetFunctionPointer("nvmlDeviceGetComputeRunningProcesses_v3")
        count = c_uint(0)
        first = fn(h, byref(count), None)
        first_count = count.value
        small = (N.c_nvmlProcessInfo_v3_t * 1)()
        count.value = 1
        second = fn(h, byref(count), small)
        print(json.dumps([first, first_count, second, count.value]))
        """,
        [{"process": [(1, 1), (2, 2), (3, 3)]}],
    )
    assert out == [7, 3, 7, 3]


def test_mig_devices(run_pynvml) -> None:
    out = run_pynvml(
        """
        N.nvmlInit()
        gpu = N.nvmlDeviceGetHandleByIndex(0)
        migs = [N.nvmlDeviceGetMigDeviceHandleByIndex(gpu, i)
                for i in range(N.nvmlDeviceGetMaxMigDeviceCount(gpu))]
        mem = N.nvmlDeviceGetMemoryInfo(migs[1], version=N.nvmlMemory_v2)
        try:
            N.nvmlDeviceGetMigDeviceHandleByIndex(gpu, 2)
            beyond = None
        except N.NVMLError as e:
            beyond = type(e).__name__
        try:
            N.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(gpu)
            parent_of_gpu = None
        except N.NVMLError as e:
            parent_of_gpu = type(e).__name__
        try:
            N.nvmlDeviceGetTemperature(migs[0], 0)
            mig_temp = None
        except N.NVMLError as e:
            mig_temp = type(e).__name__
        print(json.dumps({
            "mode": N.nvmlDeviceGetMigMode(gpu),
            "plain_mode": N.nvmlDeviceGetMigMode(N.nvmlDeviceGetHandleByIndex(1)),
            "is_mig": [N.nvmlDeviceIsMigDeviceHandle(h).value for h in (gpu, *migs)],
            "names": [N.nvmlDeviceGetName(m) for m in migs],
            "uuids": [N.nvmlDeviceGetUUID(m) for m in migs],
            "index": [N.nvmlDeviceGetIndex(m) for m in migs],
            "gi": [N.nvmlDeviceGetGpuInstanceId(m) for m in migs],
            "parent": N.nvmlDeviceGetUUID(N.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(migs[1])),
            "by_uuid": N.nvmlDeviceGetName(N.nvmlDeviceGetHandleByUUID("MIG-bbb")),
            "mem": [mem.total, mem.used, mem.free],
            "beyond": beyond, "parent_of_gpu": parent_of_gpu, "mig_temp": mig_temp,
            "max_plain": N.nvmlDeviceGetMaxMigDeviceCount(N.nvmlDeviceGetHandleByIndex(1)),
        }))
        """,
        [
            {
                **H100,
                "mig_mode": 1,
                "mig": [
                    {"name": "MIG 3g.40gb", "uuid": "MIG-aaa", "memory_total": 40 * GIB, "gpu_instance_id": 1},
                    {
                        "name": "MIG 4g.40gb",
                        "uuid": "MIG-bbb",
                        "memory_total": 40 * GIB,
                        "memory_used": 1 * GIB,
                        "gpu_instance_id": 2,
                    },
                ],
            },
            {**H100, "mig_mode": 0},
        ],
    )
    assert out["mode"] == [1, 1]
    assert out["plain_mode"] == [0, 0]
    assert out["is_mig"] == [0, 1, 1]
    assert out["names"] == ["MIG 3g.40gb", "MIG 4g.40gb"]
    assert out["uuids"] == ["MIG-aaa", "MIG-bbb"]
    assert out["index"] == [0, 1]
    assert out["gi"] == [1, 2]
    assert out["parent"] == H100["uuid"]
    assert out["by_uuid"] == "MIG 4g.40gb"
    assert out["mem"] == [40 * GIB, 1 * GIB, 39 * GIB]
    assert out["beyond"] == "NVMLError_NotFound"
    assert out["parent_of_gpu"] == "NVMLError_InvalidArgument"
    assert out["mig_temp"] == "NVMLError_NotSupported"
    assert out["max_plain"] == 0


INIT_ERRORS = {
    9: "NVMLError_DriverNotLoaded",
    12: "NVMLError_LibraryNotFound",
    4: "NVMLError_NoPermission",
    17: "NVMLError_OperatingSystem",
    18: "NVMLError_LibRmVersionMismatch",
    999: "NVMLError_Unknown",
}


def test_init_errors_and_config_reread(run_pynvml, tmp_path: Path) -> None:
    """One process: rewrite the config between inits (it is re-read every time)."""
    out = run_pynvml(
        """
        import sys
        sys.path.insert(0, TESTS_DIR)
        from pathlib import Path
        from support.nvml import write_config
        res = {}
        for code in CODES:
            write_config(Path(cfg), [{"name": "x"}], init_error=code)
            try:
                N.nvmlInit()
                res[code] = "initialized"
            except N.NVMLError as e:
                res[code] = type(e).__name__
        try:
            N.nvmlDeviceGetCount()
            res["after_failed_init"] = "ok"
        except N.NVMLError as e:
            res["after_failed_init"] = type(e).__name__
        write_config(Path(cfg), [{"name": "first"}, {"name": "second"}])
        N.nvmlInit()
        res["count"] = N.nvmlDeviceGetCount()
        res["name"] = N.nvmlDeviceGetName(N.nvmlDeviceGetHandleByIndex(1))
        N.nvmlShutdown()
        try:
            N.nvmlDeviceGetCount()
            res["after_shutdown"] = "ok"
        except N.NVMLError as e:
            res["after_shutdown"] = type(e).__name__
        print(json.dumps(res))
        """.replace("TESTS_DIR", repr(str(TESTS))).replace("CODES", repr(list(INIT_ERRORS))),
        [],
    )
    assert {int(k): v for k, v in out.items() if k.isdigit()} == INIT_ERRORS
    assert out["after_failed_init"] == "NVMLError_Uninitialized"
    assert (out["count"], out["name"]) == (2, "second")
    assert out["after_shutdown"] == "NVMLError_Uninitialized"


def test_lost_gpu_and_reset_required(run_pynvml) -> None:
    out = run_pynvml(
        """
        N.nvmlInit()
        res = []
        for i in range(N.nvmlDeviceGetCount()):
            try:
                res.append(N.nvmlDeviceGetName(N.nvmlDeviceGetHandleByIndex(i)))
            except N.NVMLError as e:
                res.append(type(e).__name__)
        print(json.dumps(res))
        """,
        [H100, {**H100, "handle_error": 15}, {**H100, "handle_error": 16}, {**H100, "device_error": 15}],
    )
    assert out == [H100["name"], "NVMLError_GpuIsLost", "NVMLError_ResetRequired", "NVMLError_GpuIsLost"]


def test_forced_failures(run_pynvml) -> None:
    out = run_pynvml(
        """
        N.nvmlInit()
        h0, h1 = N.nvmlDeviceGetHandleByIndex(0), N.nvmlDeviceGetHandleByIndex(1)
        def call(f, *a):
            try:
                f(*a)
                return "ok"
            except Exception as e:  # NVMLLibraryMismatchError is not an NVMLError
                return type(e).__name__
        print(json.dumps({
            "v2": call(N.nvmlDeviceGetMemoryInfo, h0, N.nvmlMemory_v2),
            "v1": N.nvmlDeviceGetMemoryInfo(h0).used,
            "power0": call(N.nvmlDeviceGetPowerUsage, h0),
            "power1": call(N.nvmlDeviceGetPowerUsage, h1),
            "procs0": call(N.nvmlDeviceGetComputeRunningProcesses, h0),
            "procs1": call(N.nvmlDeviceGetComputeRunningProcesses, h1),
            "driver": call(N.nvmlSystemGetDriverVersion),
        }))
        """,
        [
            {**H100, "fail": {"nvmlDeviceGetPowerUsage": 3, "nvmlDeviceGetComputeRunningProcesses_v3": 13}},
            H100,
        ],
        driver_version="550.54.14",
        fail={"nvmlDeviceGetMemoryInfo_v2": 13, "nvmlSystemGetDriverVersion": 999},
    )
    assert out == {
        "v2": "NVMLError_FunctionNotFound",
        "v1": 61865984 + 502267904,
        "power0": "NVMLError_NotSupported",
        "power1": "ok",
        # pynvml's unversioned wrapper turns FunctionNotFound into a library mismatch error
        "procs0": "NVMLLibraryMismatchError",
        "procs1": "ok",
        "driver": "NVMLError_Unknown",
    }


def test_bad_handle_and_small_buffer(run_pynvml) -> None:
    out = run_pynvml(
        """
        from ctypes import byref, cast, c_uint, c_void_p, create_string_buffer
        N.nvmlInit()
        h = N.nvmlDeviceGetHandleByIndex(0)
        bogus = cast(c_void_p(0x1000), N.c_nvmlDevice_t)
        try:
            N.nvmlDeviceGetName(bogus)
            bad = None
        except N.NVMLError as e:
            bad = type(e).__name__
        buf = create_string_buffer(4)
        small = N._nvmlGetFunctionPointer("nvmlDeviceGetName")(h, buf, c_uint(4))
        print(json.dumps([bad, small]))
        """,
        [H100],
    )
    assert out == ["NVMLError_InvalidArgument", 7]


def test_config_errors_are_loud(fake_lib: Path, tmp_path: Path) -> None:
    cases = {
        "gpu\nnmae typo\n": "unknown device key 'nmae'",
        "fail nvmlDeviceGetNoSuchThing 3\n": "no symbol 'nvmlDeviceGetNoSuchThing'",
        "gpu\nmig name=MIG 1g uuid=MIG-1\n": "separate fields with ';'",
        "gpu\nmemory_total lots\n": "expected an unsigned number",
    }
    for text, message in cases.items():
        cfg = tmp_path / "bad.conf"
        cfg.write_text(text)
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "import pynvml as N\ntry:\n    N.nvmlInit()\nexcept N.NVMLError_Unknown:\n    print('unknown')",
            ],
            env={**os.environ, **nvml_env(fake_lib.parent, cfg)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.stdout.strip() == "unknown", text
        assert message in proc.stderr, proc.stderr
        assert f"bad.conf:{text.count(chr(10))}:" in proc.stderr, proc.stderr  # the last line is the bad one


def test_write_config_rejects_unrepresentable_values(tmp_path: Path) -> None:
    for gpu in ({"name": "a\nb"}, {"name": "GPU #1"}, {"mig": [{"name": "a;b"}]}, {"fan": -1}):
        with pytest.raises(ValueError):
            write_config(tmp_path / "c.conf", [gpu])


def _eight_gpus(own_pid: int) -> list[dict]:
    gpus = []
    for i in range(8):
        gpu = {
            **H100,
            "name": f"NVIDIA H100 80GB HBM3 fake{i}",
            "uuid": f"GPU-{i:08x}-1111-2222-3333-444444444444",
            "pci_bus_id": f"00000000:{0x18 + i:02x}:00.0",
            "performance_state": 0,
            "persistence_mode": 1,
            "compute_mode": 0,
            "display_active": 0,
            "util_encoder": 0,
            "util_decoder": 0,
        }
        if i == 0:
            gpu["process"] = [(own_pid, 512 << 20)]
        else:
            # gpustat sleeps 0.1 s per GPU that lists processes; keep it to one.
            gpu["fail"] = {"nvmlDeviceGetComputeRunningProcesses_v3": 3, "nvmlDeviceGetGraphicsRunningProcesses_v3": 3}
        gpus.append(gpu)
    return gpus


def _tool_env(fake_lib: Path, tmp_path: Path) -> dict[str, str]:
    cfg = write_config(
        tmp_path / "eight.conf", _eight_gpus(os.getpid()), driver_version="550.54.14", cuda_driver_version=12040
    )
    return {**os.environ, **nvml_env(fake_lib.parent, cfg)}


def test_gpustat_json_eight_gpus(fake_lib: Path, tmp_path: Path) -> None:
    gpustat = BIN / "gpustat"
    if not gpustat.exists():
        pytest.skip("gpustat is not installed")
    proc = subprocess.run(
        [str(gpustat), "--json"],
        env=_tool_env(fake_lib, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["driver_version"] == "550.54.14"
    assert [g["name"] for g in report["gpus"]] == [f"NVIDIA H100 80GB HBM3 fake{i}" for i in range(8)]
    first = report["gpus"][0]
    assert first["memory.used"] == 61865984 >> 20  # the v2 "used", without reserved
    assert first["temperature.gpu"] == 62
    assert first["power.draw"] == 250
    assert [p["pid"] for p in first["processes"]] == [os.getpid()]
    assert first["processes"][0]["gpu_memory_usage"] == 512


def test_nvitop_once_eight_gpus(fake_lib: Path, tmp_path: Path) -> None:
    nvitop = BIN / "nvitop"
    if not nvitop.exists():
        pytest.skip("nvitop is not installed")
    env = {**_tool_env(fake_lib, tmp_path), "TERM": "xterm-256color"}
    proc = subprocess.run(
        [str(nvitop), "-1"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # nvitop logs a traceback for any FunctionNotFound
    assert "Driver Version: 550.54.14" in proc.stdout
    assert "CUDA Driver Version: 12.4" in proc.stdout
    for i in range(8):
        # nvitop drops the "NVIDIA " prefix and cuts long names from the left
        assert f"fake{i}" in proc.stdout
        assert f"00000000:{0x18 + i:02X}:00.0" in proc.stdout


def test_preload_without_ld_library_path(fake_lib: Path, tmp_path: Path) -> None:
    """preload_fake_nvml() lets pynvml's CDLL("libnvidia-ml.so.1") find the fake by soname."""
    cfg = write_config(tmp_path / "c.conf", [{"name": "preloaded"}])
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from support.nvml import preload_fake_nvml
        preload_fake_nvml({str(fake_lib)!r})
        import pynvml as N
        N.nvmlInit()
        print(N.nvmlDeviceGetName(N.nvmlDeviceGetHandleByIndex(0)))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    env["FAKE_NVML_CONFIG"] = str(cfg)
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "preloaded"
