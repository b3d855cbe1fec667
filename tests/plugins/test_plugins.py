"""Plugins: built-ins through the hook, real entry-point discovery, isolation of broken plugins."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from support.plugins import DRIVER_SOURCE, make_distribution

import flockops
from flockops.agent.driver import Context, Driver
from flockops.agent.model import GpuSample
from flockops.plugins.manager import get_plugin_manager, load_drivers

# Built-in drivers in registry order: by vendor, then priority.
BUILTINS = ["amdsmi", "amd-smi", "rocm-smi", "sysfs-amd", "sysfs-intel", "nvml", "nvidia-smi"]


def test_builtin_drivers_register_through_the_hook() -> None:
    plugins = get_plugin_manager(env={})
    assert {p.name for p in plugins.info if p.builtin} == set(BUILTINS)
    assert all(p.hooks == ("register_drivers",) for p in plugins.info)
    names = [d.name for d in load_drivers(plugins).drivers]
    assert names == BUILTINS


def test_disable_env_blocks_named_plugins() -> None:
    plugins = get_plugin_manager(env={"FLOCKOPS_DISABLE_PLUGINS": "nvml, other"})
    assert [d.name for d in load_drivers(plugins).drivers] == [n for n in BUILTINS if n != "nvml"]


def test_entry_point_plugin_is_discovered_for_real(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "site").mkdir()
    make_distribution(tmp_path / "site", "acme_flockops", DRIVER_SOURCE)
    env = {"PYTHONPATH": str(tmp_path / "site")}

    plugins = flockops("plugins", "-o", "json", env=env).json()
    acme = next(p for p in plugins if p["name"] == "acme")
    assert acme == {"name": "acme", "version": "1.2.3", "hooks": ["register_drivers"], "builtin": False,
                    "error": None}

    drivers = flockops("drivers", "-o", "json", env=env).json()
    assert {"name": "acme", "vendor": "acme", "priority": 10, "available": False,
            "reason": "no ACME card in this machine"} in drivers

    report = flockops("report", "-o", "json", env=env).json()
    (gpu,) = report["hosts"][0]["gpus"]
    assert gpu["name"] == "ACME Rocket 1" and gpu["source"] == "acme"

    blocked = flockops("drivers", "-o", "json", env={**env, "FLOCKOPS_DISABLE_PLUGINS": "acme"}).json()
    assert "acme" not in {d["name"] for d in blocked}


def test_a_plugin_that_fails_to_import_takes_nothing_down(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    site = tmp_path / "site"
    site.mkdir()
    make_distribution(site, "broken_flockops", "raise RuntimeError('boom at import')\n", ep_name="broken")
    env = {"PYTHONPATH": str(site)}

    run = flockops("report", "-o", "json", env=env)
    assert run.returncode == 0
    assert "plugin broken skipped" in run.stderr and "boom at import" in run.stderr
    assert "Traceback" not in run.stderr
    assert sorted(d["name"] for d in run.json()["hosts"][0]["drivers"]) == sorted(BUILTINS)

    plugins = flockops("plugins", "-o", "json", env=env).json()
    broken = next(p for p in plugins if p["name"] == "broken")
    assert "RuntimeError: boom at import" in broken["error"]


class _Raising:
    @flockops.hookimpl
    def register_drivers(self, register):  # type: ignore[no-untyped-def]
        raise ValueError("bad plugin")


class _Crashing(Driver):
    name = "crashy"
    vendor = "nvidia"
    priority = 1

    def probe(self, ctx: Context) -> None:
        raise ZeroDivisionError("in probe")

    def collect(self, ctx: Context):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("in collect")


class _CrashingPlugin:
    @flockops.hookimpl
    def register_drivers(self, register):  # type: ignore[no-untyped-def]
        register(_Crashing())


def test_a_raising_hook_only_loses_its_own_drivers() -> None:
    plugins = get_plugin_manager(env={}, extra=[("raising", _Raising()), ("crashing", _CrashingPlugin())])
    registry = load_drivers(plugins)
    assert [d.name for d in registry.drivers] == [*BUILTINS[:5], "crashy", *BUILTINS[5:]]
    assert registry.failures == (("raising", "register_drivers raised ValueError: bad plugin"),)


def test_a_crashing_driver_is_recorded_and_the_chain_goes_on(tmp_path: Path) -> None:
    from flockops.agent.chain import collect_host

    registry = load_drivers(get_plugin_manager(env={}, extra=[("crashing", _CrashingPlugin())]))
    ctx = Context(env={"PATH": str(tmp_path)})
    host = collect_host(registry.drivers, ctx)
    outcomes = {d.name: (d.outcome, d.reason) for d in host.drivers}
    assert outcomes["crashy"] == ("failed", "ZeroDivisionError: in collect")
    assert outcomes["nvml"][0] == "unavailable"
    assert outcomes["nvidia-smi"] == ("unavailable", "nvidia-smi not found on PATH or in /usr/bin")
    # Nobody of the vendor answered, so the crash is the report's business.
    assert [(e.kind, e.source) for e in host.errors] == [("driver", "crashy")]
    assert host.status == "partial"


class _Returns(Driver):
    """A plugin driver that answers with whatever it is given."""

    vendor = "acme"
    priority = 5

    def __init__(self, name: str, answer: object) -> None:
        self.name = name  # type: ignore[misc]
        self.answer = answer

    def probe(self, ctx: Context) -> None:
        pass

    def collect(self, ctx: Context):  # type: ignore[no-untyped-def]
        return self.answer


class _Unnamed(Driver):
    vendor = "acme"
    priority = 1


class _StringPriority(Driver):
    name = "acme-text"
    vendor = "acme"
    priority = "10"  # type: ignore[assignment]


class _BadShapesPlugin:
    @flockops.hookimpl
    def register_drivers(self, register):  # type: ignore[no-untyped-def]
        register(_Unnamed())
        register(_StringPriority())
        register(object())
        register(_Returns("acme-ok", [GpuSample(vendor="acme", index=0, source="acme-ok")]))


def test_drivers_that_break_the_contract_are_refused_and_the_rest_kept() -> None:
    registry = load_drivers(get_plugin_manager(env={}, extra=[("shapes", _BadShapesPlugin())]))
    assert [d.name for d in registry.drivers] == ["acme-ok", *BUILTINS]
    assert registry.failures == (
        ("shapes", "driver rejected: its name is None, not a non-empty string"),
        ("shapes", "driver rejected: acme-text: its priority is '10', not an integer"),
        ("shapes", "driver rejected: object is not a subclass of flockops.agent.driver.Driver"),
    )


def test_what_a_driver_returns_is_checked_where_the_core_receives_it(tmp_path: Path) -> None:
    from flockops.agent.chain import collect_host

    good = GpuSample(vendor="acme", index=0, source="acme-ok", name="Rocket", memory_total_bytes=1 << 30)
    drivers = [
        _Returns("acme-dicts", [{"index": 0}]),  # not a GpuSample: this driver failed, the next is tried
        _Returns("acme-ok", [replace(good, memory_used_bytes="80 GiB", temperature_c=True)]),  # type: ignore[arg-type]
    ]
    drivers[1].priority = 6  # type: ignore[misc]
    host = collect_host(drivers, Context(env={"PATH": str(tmp_path)}), selected=["acme-dicts", "acme-ok"])
    outcomes = {d.name: (d.outcome, d.reason) for d in host.drivers}
    assert outcomes["acme-dicts"] == ("failed", "acme-dicts returned dict, not a GpuSample")
    assert outcomes["acme-ok"] == ("used", None)
    (gpu,) = host.gpus
    # The two fields of the wrong type are unknown, with why; what was right is kept.
    assert (gpu.memory_total_bytes, gpu.memory_used_bytes, gpu.temperature_c) == (1 << 30, None, None)
    assert gpu.field_errors == {"memory_used_bytes": "the driver gave str '80 GiB', not int | None",
                                "temperature_c": "the driver gave bool True, not float | None"}
    required = _Returns("acme-bad-index", [replace(good, index="0")])  # type: ignore[arg-type]
    host = collect_host([required], Context(env={"PATH": str(tmp_path)}), selected=["acme-bad-index"])
    assert host.gpus == () and host.drivers[0].outcome == "failed"
    assert host.drivers[0].reason == "acme-bad-index returned a GpuSample whose index is '0', not int"


def test_misspelt_hook_is_refused_not_silently_ignored() -> None:
    class Misspelt:
        @flockops.hookimpl
        def register_driver(self, register):  # type: ignore[no-untyped-def]
            pass

    plugins = get_plugin_manager(env={}, extra=[("misspelt", Misspelt())])
    info = next(p for p in plugins.info if p.name == "misspelt")
    assert info.error is not None and "register_driver" in info.error


@pytest.mark.parametrize("module", ["flockops.agent.drivers.nvml", "flockops.agent.drivers.nvidia_smi",
                                    "flockops.agent.chain", "flockops.agent.drivers.amd_library",
                                    "flockops.agent.drivers.amd_smi", "flockops.agent.drivers.rocm_smi",
                                    "flockops.agent.drivers.sysfs", "flockops.agent.pci"])
def test_probe_side_modules_do_not_import_ui_or_ssh(module: str) -> None:
    import subprocess
    import sys

    code = textwrap.dedent(f"""
        import sys, importlib
        importlib.import_module({module!r})
        bad = {{"pluggy", "tabulate", "paramiko", "flockops.cli", "flockops.render", "yaml"}} & set(sys.modules)
        print(sorted(bad))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_entry_point_scanner_agrees_with_importlib_metadata() -> None:
    from importlib import metadata

    from flockops.plugins.entrypoints import entry_points

    for group in ("console_scripts", "flockops"):
        ours = sorted((e.name, e.value, e.dist_version) for e in entry_points(group))
        theirs = sorted((e.name, e.value, e.dist.version if e.dist else None)
                        for e in metadata.entry_points(group=group))
        assert ours == theirs
    assert any(e.name == "flockops" for e in entry_points("console_scripts"))
