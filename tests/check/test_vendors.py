"""check on every vendor (#15 item 2): AMD and Intel GPUs can be OK; what a card cannot report is
said once as INFO unless --require asks for it; GPUs of two vendors never share an item."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.paths import DATA, FAKES

from flockops.agent.model import FleetReport, GpuSample, HostReport
from flockops.check.nagios import render
from flockops.check.rules import State, Thresholds, evaluate, overall
from flockops.check.state import apply_consecutive, remember
from flockops.render.prometheus import Exposition, check_metrics

SYSFS = DATA / "sysfs"
DISCRETE = ["amd-rx7900xtx", "amd-rx9070xt", "amd-rx6900xt", "intel-b580", "intel-a380-xe"]


def sample(vendor: str, index: int = 0, **kw: Any) -> GpuSample:
    base: dict[str, Any] = {"vendor": vendor, "index": index, "source": "sysfs", "temperature_c": 50.0,
                            "temperature_slowdown_c": 100.0, "throttle_reasons": None,
                            "pci_bus_id": f"0000:0{index}:00.0"}
    base.update(kw)
    return GpuSample(**base)


def mixed() -> FleetReport:
    host = HostReport("node1", gpus=(sample("nvidia", throttle_reasons=(), source="nvml"), sample("amd"),
                                     sample("amd", 1, temperature_c=99.5)))
    return FleetReport(hosts=(host,), generated_at="")


@pytest.mark.parametrize("tree", DISCRETE)
def test_a_real_amd_or_intel_card_at_a_normal_temperature_is_ok(tree: str, flockops) -> None:  # type: ignore[no-untyped-def]
    env = {"FLOCKOPS_SYSFS_ROOT": str(SYSFS / tree)}
    run = flockops("check", "--no-ollama", "--driver", "sysfs-amd", "--driver", "sysfs-intel", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("FLOCKOPS OK - 1 GPU on 1 host OK")
    assert "INFO: throttle status not reported by sysfs on 1 GPU (localhost/gpu0)" in run.stdout
    strict = flockops("check", "--no-ollama", "--driver", "sysfs-amd", "--driver", "sysfs-intel",
                      "--require", "throttle", env=env)
    assert strict.returncode == 3 and "localhost GPU0 throttle reasons not readable" in strict.stdout


def test_rocm_smi_without_throttle_status_is_ok(flockops) -> None:  # type: ignore[no-untyped-def]
    env = {"FAKE_ROCM_SMI_CASE": str(DATA / "rocm-smi" / "cases" / "mi100-rocm602"), "PATH": f"{FAKES}:/usr/bin:/bin"}
    run = flockops("check", "--no-ollama", "--driver", "rocm-smi", env=env)
    assert run.returncode == 0, run.stdout
    assert "INFO: throttle status not reported by rocm-smi" in run.stdout


def test_an_integrated_gpu_without_a_temperature_is_information() -> None:
    igpu = sample("intel", temperature_c=None, temperature_slowdown_c=None, memory_shared=True)
    report = FleetReport(hosts=(HostReport("laptop", gpus=(igpu,)),), generated_at="")
    items = evaluate(report, lambda h: Thresholds())
    assert overall(items) == State.OK
    assert "INFO: temperature (an integrated GPU) not reported by sysfs on 1 GPU" in render(items, State.OK)
    required = evaluate(report, lambda h: Thresholds(required=frozenset({"temperature"})))
    assert overall(required) == State.UNKNOWN
    discrete = FleetReport(hosts=(HostReport("box", gpus=(sample("amd", temperature_c=None),)),), generated_at="")
    assert overall(evaluate(discrete, lambda h: Thresholds())) == State.UNKNOWN  # its own sensor failed


def test_gpus_of_two_vendors_never_share_an_item() -> None:
    items = evaluate(mixed(), lambda h: Thresholds())
    keys = [i.key for i in items]
    assert len(keys) == len(set(keys))
    assert {"node1/nvidia-gpu0/temperature", "node1/amd-gpu0/temperature", "node1/amd-gpu1/temperature"} <= set(keys)
    text = render(items, overall(items))
    assert text.startswith("FLOCKOPS CRITICAL - node1 AMD GPU1 99.5 °C >= critical 98 °C")
    labels = [p.label for i in items for p in i.perf]
    assert len(labels) == len(set(labels)) and "node1/amd-gpu0 temperature" in labels
    # One INFO line for both AMD GPUs' missing throttle status, not one per GPU.
    assert text.count("INFO: ") == 1 and "on 2 GPUs (node1/amd-gpu0, node1/amd-gpu1)" in text
    # Prometheus: a series each, no duplicates (the parser refuses none, so count them).
    exposition = check_metrics(Exposition(), items).text()
    series = [(s.labels["host"], s.labels["check"]) for f in text_string_to_metric_families(exposition)
              for s in f.samples]
    assert len(series) == len(set(series)) == len(items)


def test_the_consecutive_state_counts_each_vendors_gpu_apart() -> None:
    items = evaluate(mixed(), lambda h: Thresholds())
    first = apply_consecutive(items, {}, 2)
    assert [i.key for i in first if i.held] == ["node1/amd-gpu1/temperature"]  # breach 1 of 2
    memory = remember(items, first, {})
    assert memory["node1/amd-gpu1/temperature"].streak == 1
    assert memory["node1/nvidia-gpu0/temperature"].streak == 0 and memory["node1/amd-gpu0/temperature"].streak == 0
    second = apply_consecutive(items, memory, 2)  # the second run in a row alerts
    assert not any(i.held for i in second) and overall(second) == State.CRITICAL


def test_two_gpus_of_one_vendor_and_index_fall_back_to_their_bus_id() -> None:
    twins = HostReport("odd", gpus=(sample("amd", pci_bus_id="0000:03:00.0"), sample("amd", pci_bus_id="0000:83:00.0")))
    keys = [i.key for i in evaluate(FleetReport(hosts=(twins,), generated_at=""), lambda h: Thresholds())]
    assert "odd/gpu0@0000:03:00.0/temperature" in keys and "odd/gpu0@0000:83:00.0/temperature" in keys
