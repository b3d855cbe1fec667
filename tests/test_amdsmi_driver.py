"""The amdsmi driver where ROCm is absent: it says why, and never writes on stdout.

The real amdsmi 7.0.2 package (pinned in the test extra) is used where installed. Without
ROCm's libamd_smi.so, ``import amdsmi`` prints two lines on stdout and raises KeyError;
a report in JSON must stay JSON. (No fake libamd_smi.so exists yet, so the sampling path is
exercised only through the contract test's shapes, not against the library.)
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from flockops.driver import Context
from flockops.drivers.amdsmi import AmdsmiDriver, find_library, import_amdsmi
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
