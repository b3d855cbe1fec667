"""The amdsmi driver: where ROCm is absent it says why and never writes on stdout; against
the fake libamd_smi.so it reports every field through the real amdsmi package.

The real amdsmi 7.0.2 package (pinned in the test extra) is used where installed. Without
ROCm's libamd_smi.so, ``import amdsmi`` prints two lines on stdout and raises KeyError;
a report in JSON must stay JSON. With the fake (``tests/support/fakeamdsmi``, built by
``tests/support/amdsmi.py``), the whole path runs: package import, ctypes structures, driver.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.gpus import mi210, mi300a
from support.units import GIB

from flockops.agent.driver import Context
from flockops.agent.drivers.amd_library import AmdsmiDriver, find_library, import_amdsmi
from flockops.errors import DriverUnavailable

HAVE_AMDSMI = importlib.util.find_spec("amdsmi") is not None

BROKEN_AMDSMI = '''
# What amdsmi_wrapper.py does when libamd_smi.so cannot be loaded: print, then KeyError.
print("libamd_smi.so: cannot open shared object file: No such file or directory")
print("Unable to find libamd_smi.so library try installing amd-smi-lib from your package manager")
_libraries = {}
amdsmi_init = _libraries["libamd_smi.so"].amdsmi_init
'''


def test_package_not_installed_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "amdsmi", None)  # import of amdsmi halted: as if absent
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(DriverUnavailable, match=r"amdsmi package is not installed \(pip install 'flockops\[amd\]'\)"):
        AmdsmiDriver().probe(Context(env={}))


@pytest.mark.skipif(not HAVE_AMDSMI, reason="amdsmi not installed")
def test_no_rocm_library_is_unavailable_without_importing(tmp_path: Path) -> None:
    env = {"ROCM_PATH": str(tmp_path), "LD_LIBRARY_PATH": ""}
    if find_library(env) is not None:
        pytest.skip("this machine has libamd_smi.so")
    with pytest.raises(DriverUnavailable, match="libamd_smi.so not found"):
        import_amdsmi(env)
    assert "amdsmi" not in sys.modules


def _fake_library(tmp_path: Path) -> dict[str, str]:
    """A file named libamd_smi.so that is no library: the precheck passes, the load fails."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libamd_smi.so").write_text("not an ELF file\n")
    return {"ROCM_PATH": str(tmp_path)}


@pytest.mark.skipif(not HAVE_AMDSMI, reason="amdsmi not installed")
def test_real_package_without_rocm_keeps_json_clean(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    run = flockops("report", "-o", "json", "--driver", "amdsmi", env=_fake_library(tmp_path))
    assert run.returncode == 0, run.stderr
    host = json.loads(run.stdout)["hosts"][0]  # stdout is JSON and nothing else
    attempt = next(d for d in host["drivers"] if d["name"] == "amdsmi")
    assert attempt["outcome"] == "unavailable"
    assert "cannot load ROCm's libamd_smi.so (KeyError" in attempt["reason"]


def test_binding_that_prints_and_raises_keyerror(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "site"
    (site / "amdsmi").mkdir(parents=True)
    (site / "amdsmi" / "__init__.py").write_text(BROKEN_AMDSMI)
    env = {"PYTHONPATH": str(site), **_fake_library(tmp_path)}
    run = flockops("report", "-o", "json", "--driver", "amdsmi", env=env)
    assert "Unable to find" not in run.stdout
    attempt = next(d for d in json.loads(run.stdout)["hosts"][0]["drivers"] if d["name"] == "amdsmi")
    assert attempt["outcome"] == "unavailable" and "KeyError" in attempt["reason"]
    table = flockops("drivers", env=env)
    assert "Unable to find" not in table.stdout and "amdsmi" in table.stdout


# --- Against the fake libamd_smi.so ---------------------------------------------------------

needs_fake = pytest.mark.skipif(not HAVE_AMDSMI or shutil.which("cc") is None,
                                reason="needs the amdsmi package and a C compiler")

NOT_SUPPORTED = "AMDSMI_STATUS_NOT_SUPPORTED - Feature not supported"


@pytest.fixture(scope="module")
def fake_amdsmi_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ROCm-like tree holding the fake lib/libamd_smi.so, compiled once per module."""
    from support.amdsmi import build_fake_amdsmi

    return build_fake_amdsmi(tmp_path_factory.mktemp("rocm"))


@pytest.fixture
def amd_env(fake_amdsmi_root: Path, tmp_path: Path) -> Callable[..., dict[str, str]]:
    """Write a fake-amdsmi config and return the environment that loads it."""
    from support.amdsmi import amdsmi_env, write_config

    def make(gpus: list[dict[str, Any]], **globals_: Any) -> dict[str, str]:
        return amdsmi_env(fake_amdsmi_root, write_config(tmp_path / "amdsmi.conf", gpus, **globals_))

    return make


def amd_report(flockops, env: dict[str, str], *extra: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    run = flockops("report", "-o", "json", "--driver", "amdsmi", *extra, env=env)
    assert run.returncode == 0, run.stderr
    assert "fake_amdsmi:" not in run.stderr, run.stderr  # a config the fake rejected is a test bug
    host: dict[str, Any] = json.loads(run.stdout)["hosts"][0]  # stdout is JSON and nothing else
    return host


def _attempt(host: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(d for d in host["drivers"] if d["name"] == "amdsmi")
    return found


SYMBOL_CHECK = '''
import ctypes, json, sys
lib = ctypes.CDLL(sys.argv[1])
lib.fake_amdsmi_modeled.restype = ctypes.c_char_p
modeled = []
while (name := lib.fake_amdsmi_modeled(ctypes.c_size_t(len(modeled)))) is not None:
    modeled.append(name.decode())
print(json.dumps({"missing": [n for n in sys.argv[2:] if not hasattr(lib, n)], "modeled": modeled}))
'''


@needs_fake
def test_fake_exports_every_symbol_the_package_binds(fake_amdsmi_root: Path) -> None:
    from support import amdsmi as amdsmifake

    gen = amdsmifake._generator()
    names = [name for name, _ in gen.symbols(gen.wrapper_path().read_text())]
    assert len(names) == 184 and len(set(names)) == 184  # amdsmi 7.0.2
    # In a subprocess: loaded here, the fake's soname would answer any later CDLL("libamd_smi.so").
    lib = str(fake_amdsmi_root / "lib" / "libamd_smi.so")
    done = subprocess.run([sys.executable, "-c", SYMBOL_CHECK, lib, *names], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["missing"] == []
    assert set(result["modeled"]) <= set(names) and len(result["modeled"]) == 18
    assert importlib.metadata.version("amdsmi") == amdsmifake.AMDSMI_VERSION  # the layouts were written for it


LAYOUT_CHECK = '''
import ctypes, json, sys
from amdsmi import amdsmi_wrapper as w
lib = ctypes.CDLL(sys.argv[1])
lib.fake_amdsmi_layout.restype = ctypes.c_size_t
lib.fake_amdsmi_layout.argtypes = [ctypes.c_char_p]
bad, n = [], 0
for cname in ("asic_info", "board_info", "driver_info", "engine_usage", "power_info", "power_cap_info",
              "violation_status"):
    st = getattr(w, f"amdsmi_{cname}_t")
    key = f"amdsmi_{cname}_t"
    checks = [(key, ctypes.sizeof(st))] + [(f"{key}.{f[0]}", getattr(st, f[0]).offset) for f in st._fields_]
    for k, want in checks:
        got = lib.fake_amdsmi_layout(k.encode())
        if got != ctypes.c_size_t(-1).value:
            n += 1
            if got != want:
                bad.append((k, got, want))
n += 1
if lib.fake_amdsmi_layout(b"amdsmi_bdf_t") != ctypes.sizeof(w.amdsmi_bdf_t):
    bad.append("amdsmi_bdf_t")
print(json.dumps({"checked": n, "bad": bad}))
'''


@needs_fake
def test_fake_structures_match_the_package(fake_amdsmi_root: Path, amd_env: Callable[..., dict[str, str]],
                                           tmp_path: Path) -> None:
    """Every offset and size the fake reports equals the ctypes structure's in amdsmi_wrapper.py."""
    from support.runner import base_env

    env = {**base_env(tmp_path), **amd_env([mi210()])}
    lib = str(fake_amdsmi_root / "lib" / "libamd_smi.so")
    done = subprocess.run([sys.executable, "-c", LAYOUT_CHECK, lib], capture_output=True, text=True, env=env,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["bad"] == [] and result["checked"] == 40, result  # every entry of LAYOUTS in fake_amdsmi.c


@needs_fake
def test_two_gpus_through_the_real_package(flockops, amd_env) -> None:  # type: ignore[no-untyped-def]
    w7900 = mi210(market_name="AMD Radeon PRO W7900", uuid="00ff7448-0000-1000-8000-000000000002",
                  bdf="0000:c3:00.0", vram_total=48 * GIB, vram_used=47 * GIB, temp_edge_current=71,
                  gfx_activity=100, umc_activity=None, socket_power=None, average_socket_power=241,
                  power_cap=295_000_000)
    host = amd_report(flockops, amd_env([mi210(), w7900]))
    assert _attempt(host)["outcome"] == "used"
    first, second = host["gpus"]
    assert first["source"] == "amdsmi" and first["vendor"] == "amd" and first["index"] == 0
    assert first["name"] == "AMD Instinct MI210"
    assert first["uuid"] == "5eff740f-0000-1000-80aa-d5e1f4a1b2c3"
    assert first["pci_bus_id"] == "0000:63:00.0"
    assert first["memory_total_bytes"] == 64 * GIB
    assert first["memory_used_bytes"] == 12 * GIB + 4096
    assert first["memory_free_bytes"] == 64 * GIB - (12 * GIB + 4096)
    assert (first["temperature_c"], first["temperature_slowdown_c"], first["temperature_shutdown_c"]) == (38, 100, 105)
    assert first["temperature_sensor"] == "edge"
    assert first["temperatures"] == [
        {"sensor": "edge", "temperature_c": 38.0, "critical_c": 100.0, "emergency_c": 105.0},
        {"sensor": "junction", "temperature_c": 44.0, "critical_c": 110.0, "emergency_c": 115.0},
        {"sensor": "mem", "temperature_c": 41.0, "critical_c": 95.0, "emergency_c": 100.0},
    ]
    assert first["utilization_pct"] == 37 and first["memory_utilization_pct"] == 9
    assert first["power_w"] == 96.0 and first["power_limit_w"] == 300.0
    assert first["driver_version"] == "6.10.5"
    assert first["throttle_reasons"] is None  # MI210 has no violation status: unknown, not "none active"
    assert set(first["field_errors"]) == {"throttle_reasons"}
    assert second["index"] == 1 and second["name"] == "AMD Radeon PRO W7900"
    assert second["pci_bus_id"] == "0000:c3:00.0" and second["uuid"].startswith("00ff7448")
    assert (second["memory_total_bytes"], second["memory_used_bytes"]) == (48 * GIB, 47 * GIB)
    assert second["temperature_c"] == 71.0 and second["utilization_pct"] == 100
    assert second["memory_utilization_pct"] is None  # 0xFFFF from the library: "N/A", not 65535
    assert second["power_w"] == 241.0 and second["power_limit_w"] == 295.0  # average when socket power is N/A


@needs_fake
def test_the_table_shows_the_fake_gpus(flockops, amd_env) -> None:  # type: ignore[no-untyped-def]
    run = flockops("report", "--driver", "amdsmi", env=amd_env([mi210()]))
    assert run.returncode == 0, run.stderr
    assert "AMD Instinct MI210" in run.stdout and "amdsmi" in run.stdout and "38 °C / 100 °C" in run.stdout


@pytest.mark.parametrize(("key", "symbol", "field"), [
    ("uuid", "amdsmi_get_gpu_device_uuid", "uuid"),
    ("bdf", "amdsmi_get_gpu_device_bdf", "pci_bus_id"),
    ("vram_used", "amdsmi_get_gpu_memory_usage", "memory_used_bytes"),
    ("gfx_activity", "amdsmi_get_gpu_activity", "utilization_pct"),
    ("power_cap", "amdsmi_get_power_cap_info", "power_limit_w"),
    ("driver_version", "amdsmi_get_gpu_driver_info", "driver_version"),
])
@needs_fake
def test_a_not_supported_field_is_null_with_its_reason(key: str, symbol: str, field: str, flockops,  # type: ignore[no-untyped-def]
                                                       amd_env) -> None:
    # Once by leaving the key out (the part lacks it), once by a forced failure of the call.
    absent = {key: None, "umc_activity": None} if key == "gfx_activity" else {key: None}  # the whole struct
    for gpu, code, reason in ((mi210(**absent), None, NOT_SUPPORTED),
                              (mi210(fail={symbol: 10}), 10, "AMDSMI_STATUS_NO_PERM - Permission Denied")):
        host = amd_report(flockops, amd_env([gpu, mi210(bdf="0000:64:00.0")]))
        broken, fine = host["gpus"]
        assert broken[field] is None, (code, broken)
        assert broken["field_errors"][field] == reason
        assert fine[field] is not None and field not in fine["field_errors"]  # one GPU's field, not all
        assert broken["name"] == "AMD Instinct MI210" and not broken["lost"]
    if field == "memory_used_bytes":
        assert broken["memory_free_bytes"] is None and broken["memory_total_bytes"] == 64 * GIB


@needs_fake
def test_mi300a_without_edge_falls_back_to_junction_and_says_so(flockops, amd_env) -> None:  # type: ignore[no-untyped-def]
    gpu = amd_report(flockops, amd_env([mi300a()]))["gpus"][0]
    assert gpu["temperature_c"] == 51.0 and gpu["temperature_sensor"] == "junction"
    assert (gpu["temperature_slowdown_c"], gpu["temperature_shutdown_c"]) == (100.0, 105.0)
    assert "junction" in gpu["field_errors"]["temperature_c"] and "edge" in gpu["field_errors"]["temperature_c"]
    assert gpu["field_errors"]["temperatures.edge"] == NOT_SUPPORTED
    assert [t["sensor"] for t in gpu["temperatures"]] == ["junction", "mem"]  # no made-up edge reading
    assert gpu["throttle_reasons"] == ["power_cap"]  # active_ppt_pwr: PVIOL
    assert gpu["power_w"] == 412.0 and gpu["power_limit_w"] == 550.0


@needs_fake
def test_violation_status_with_nothing_active_is_an_empty_list(flockops, amd_env) -> None:  # type: ignore[no-untyped-def]
    gpu = amd_report(flockops, amd_env([mi300a(active_ppt_pwr=0, active_hbm_thrm=1)]))["gpus"][0]
    assert gpu["throttle_reasons"] == ["hbm_thermal"]
    gpu = amd_report(flockops, amd_env([mi300a(active_ppt_pwr=0)]))["gpus"][0]
    assert gpu["throttle_reasons"] == []


@needs_fake
def test_millidegree_temperatures_are_converted(flockops, amd_env) -> None:  # type: ignore[no-untyped-def]
    gpu = amd_report(flockops, amd_env([mi210(temp_edge_current=38500, temp_edge_critical=100000)]))["gpus"][0]
    assert gpu["temperature_c"] == 38.5 and gpu["temperature_slowdown_c"] == 100.0


@pytest.mark.parametrize(("config", "words"), [
    ({"init_error": 34}, "amdsmi could not start: AMDSMI_STATUS_DRIVER_NOT_LOADED"),
    ({"fail": {"amdsmi_init": 10}}, "amdsmi could not start: AMDSMI_STATUS_NO_PERM"),
])
@needs_fake
def test_init_refused_is_unavailable(config: dict[str, Any], words: str, flockops, amd_env) -> None:  # type: ignore[no-untyped-def]
    host = amd_report(flockops, amd_env([mi210()], **config))
    assert _attempt(host) == {**_attempt(host), "outcome": "unavailable"}
    assert words in _attempt(host)["reason"] and host["gpus"] == []


@needs_fake
def test_no_gpu_is_unavailable(flockops, amd_env) -> None:  # type: ignore[no-untyped-def]
    host = amd_report(flockops, amd_env([]))
    assert _attempt(host)["outcome"] == "unavailable"
    assert "sees no AMD GPU" in _attempt(host)["reason"]


@needs_fake
def test_gpus_sharing_a_socket_are_all_listed(flockops, amd_env) -> None:  # type: ignore[no-untyped-def]
    gpus = [mi300a(socket="s0", bdf="0002:01:00.0"), mi300a(socket="s0", bdf="0002:02:00.0"),
            mi300a(socket="s1", bdf="0003:01:00.0")]
    host = amd_report(flockops, amd_env(gpus))
    assert [g["pci_bus_id"] for g in host["gpus"]] == ["0002:01:00.0", "0002:02:00.0", "0003:01:00.0"]
    assert [g["index"] for g in host["gpus"]] == [0, 1, 2]


@needs_fake
def test_an_unreadable_gpu_keeps_the_others(flockops, amd_env) -> None:  # type: ignore[no-untyped-def]
    # Every call on the first GPU's handle fails: its fields are null with reasons; the second is whole.
    host = amd_report(flockops, amd_env([mi210(device_error=10), mi210(bdf="0000:64:00.0")]))
    dead, alive = host["gpus"]
    assert dead["memory_total_bytes"] is None and dead["field_errors"]["memory_total_bytes"].startswith(
        "AMDSMI_STATUS_NO_PERM")
    assert alive["memory_total_bytes"] == 64 * GIB and alive["field_errors"].keys() == {"throttle_reasons"}


@needs_fake
def test_drivers_command_sees_the_fake(flockops, amd_env) -> None:  # type: ignore[no-untyped-def]
    run = flockops("drivers", env=amd_env([mi210()]))
    assert run.returncode == 0, run.stderr
    assert "amdsmi" in run.stdout


@needs_fake
def test_listing_refused_is_one_readable_line(flockops, amd_env) -> None:  # type: ignore[no-untyped-def]
    host = amd_report(flockops, amd_env([mi210()], fail={"amdsmi_get_socket_handles": 10}))
    attempt = _attempt(host)
    assert attempt["outcome"] == "failed"
    assert attempt["reason"].startswith("amdsmi could not list the GPUs: ") and "\n" not in attempt["reason"]
    assert "NO_PERM" in attempt["reason"]
