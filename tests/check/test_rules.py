"""The check rules, Nagios output and Prometheus exposition, on report objects built in the test."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.units import GIB

from flockops.agent.model import DriverAttempt, FleetReport, GpuSample, HostError, HostReport
from flockops.check.nagios import number, perfdatum, render
from flockops.check.rules import State, Thresholds, evaluate, overall, thresholds_from_vars
from flockops.check.run import run_lock
from flockops.check.state import Memory, apply_consecutive, changes, load_state, remember, save_state
from flockops.errors import UsageError
from flockops.render.prometheus import check_metrics, fleet_metrics, write_textfile


def gpu(**kw: Any) -> GpuSample:
    base: dict[str, Any] = {"vendor": "nvidia", "index": 0, "source": "nvml", "name": "NVIDIA H100",
                            "uuid": "GPU-1", "memory_total_bytes": 80 * GIB, "memory_used_bytes": 10 * GIB,
                            "memory_free_bytes": 70 * GIB, "temperature_c": 60.0, "temperature_slowdown_c": 89.0,
                            "temperature_shutdown_c": 92.0, "throttle_reasons": (), "utilization_pct": 40}
    base.update(kw)
    return GpuSample(**base)


def fleet(*hosts: HostReport) -> FleetReport:
    return FleetReport(hosts=hosts, generated_at="2026-11-26T00:00:00+00:00")


DEFAULTS = Thresholds()


def states(report: FleetReport, t: Thresholds = DEFAULTS) -> dict[str, State]:
    return {i.key: i.state for i in evaluate(report, lambda h: t)}


@pytest.mark.parametrize(("temp", "slowdown", "expected"), [
    (60, 89, State.OK), (82, 89, State.WARNING), (86.9, 89, State.WARNING), (87, 89, State.CRITICAL),
    # A card whose own slowdown point is 100 °C is fine at 90 °C: no fixed 85 °C limit.
    (90, 100, State.OK), (93, 100, State.WARNING), (98, 100, State.CRITICAL),
    # No limit known: absolute defaults 80 / 87.
    (79, None, State.OK), (80, None, State.WARNING), (87, None, State.CRITICAL),
])
def test_temperature_relative_to_the_cards_own_limit(temp: float, slowdown: float | None, expected: State) -> None:
    report = fleet(HostReport("h", gpus=(gpu(temperature_c=temp, temperature_slowdown_c=slowdown),)))
    assert states(report)["h/gpu0/temperature"] == expected


def test_overrides_and_inventory_variables() -> None:
    report = fleet(HostReport("h", gpus=(gpu(temperature_c=75.0),)))
    assert states(report, Thresholds(warn_temp_c=70, crit_temp_c=74))["h/gpu0/temperature"] == State.CRITICAL
    from_vars = thresholds_from_vars(Thresholds(), {"flockops_warn_temp": "70", "flockops_crit_temp": 80}, "h")
    assert (from_vars.warn_temp_c, from_vars.crit_temp_c) == (70.0, 80.0)
    # The command line wins over the inventory.
    assert thresholds_from_vars(Thresholds(warn_temp_c=60), {"flockops_warn_temp": 70}, "h").warn_temp_c == 60
    with pytest.raises(UsageError, match="host h: flockops_crit_temp"):
        thresholds_from_vars(Thresholds(), {"flockops_crit_temp": "hot"}, "h")


@pytest.mark.parametrize(("reasons", "expected"), [
    ((), State.OK), (("gpu_idle",), State.OK), (("applications_clocks_setting", "display_clock_setting"), State.OK),
    (("sync_boost",), State.OK), (("sw_power_cap",), State.OK),
    (("hw_slowdown",), State.WARNING), (("hw_power_brake_slowdown",), State.WARNING),
    (("sw_thermal_slowdown",), State.CRITICAL), (("hw_thermal_slowdown", "sw_power_cap"), State.CRITICAL),
    (None, State.OK),  # not reported (sysfs, rocm-smi): INFO, unless --require throttle
])
def test_throttle_rules(reasons: tuple[str, ...] | None, expected: State) -> None:
    report = fleet(HostReport("h", gpus=(gpu(throttle_reasons=reasons),)))
    assert states(report)["h/gpu0/throttle"] == expected


def test_amd_throttle_is_advisory() -> None:
    report = fleet(HostReport("h", gpus=(gpu(vendor="amd", throttle_reasons=("hw_thermal_slowdown",)),)))
    item = next(i for i in evaluate(report, lambda h: Thresholds()) if i.key == "h/gpu0/throttle")
    assert item.state == State.OK and "advisory" in item.text


def test_unknown_values_and_hosts_are_never_ok() -> None:
    report = fleet(
        HostReport("h", gpus=(gpu(temperature_c=None), gpu(index=1, lost=True, lost_reason="GPU is lost"))),
        HostReport("down", errors=(HostError("unreachable", "ssh", "connection refused"),)),
    )
    got = states(report)
    assert got["h/gpu0/temperature"] == State.UNKNOWN
    assert got["h/gpu1/lost"] == State.CRITICAL
    assert got["down/host"] == State.UNKNOWN
    assert states(report, Thresholds(unreachable=State.CRITICAL))["down/host"] == State.CRITICAL


def test_min_free_vram() -> None:
    report = fleet(HostReport("h", gpus=(gpu(memory_free_bytes=5 * GIB),)))
    assert states(report, Thresholds(min_free_vram_bytes=8 * GIB))["h/gpu0/free_vram"] == State.WARNING
    assert states(report, Thresholds(min_free_vram_pct=5))["h/gpu0/free_vram"] == State.OK
    assert states(report, Thresholds(min_free_vram_pct=10))["h/gpu0/free_vram"] == State.WARNING
    assert "h/gpu0/free_vram" not in states(report)


def test_nagios_first_line_perfdata_and_problem_lines() -> None:
    report = fleet(HostReport("gpu-a", gpus=(gpu(temperature_c=88.0), gpu(index=1, throttle_reasons=("hw_slowdown",)))))
    items = evaluate(report, lambda h: Thresholds())
    state = overall(items)
    text = render(items, state)
    first, *rest = text.splitlines()
    assert state == State.CRITICAL
    assert first.startswith("FLOCKOPS CRITICAL - gpu-a GPU0 88 °C >= critical 87 °C (slowdown 89 °C); "
                            "gpu-a GPU1 throttling: hw_slowdown | ")
    assert "'gpu-a/gpu0 temperature'=88;82;87;;92" in first
    assert "'gpu-a/gpu0 vram_used'=10737418240B;;;0;85899345920" in first
    assert "'gpu-a/gpu0 utilization'=40%;;;0;100" in first
    assert rest == ["CRITICAL: gpu-a GPU0 88 °C >= critical 87 °C (slowdown 89 °C)",
                    "WARNING: gpu-a GPU1 throttling: hw_slowdown"]
    ok = render(evaluate(fleet(HostReport("h", gpus=(gpu(),))), lambda h: Thresholds()), State.OK)
    assert ok.startswith("FLOCKOPS OK - 1 GPU on 1 host OK | ")


def test_perfdata_numbers_are_c_locale_and_labels_quoted() -> None:
    from flockops.check.rules import Perf

    assert number(85899345920.0) == "85899345920" and number(0.5) == "0.5" and number(62.25) == "62.25"
    assert perfdatum(Perf("it's=odd", 1.0)) == "'it''s_odd'=1"


def test_prometheus_exposition_parses(tmp_path: Path) -> None:
    report = fleet(HostReport("gpu-a", gpus=(gpu(throttle_reasons=("sw_power_cap",), name='quote " name'),
                                             gpu(index=1, power_w=None))),
                   HostReport("down", errors=(HostError("timeout", "ssh", "slow"),)))
    exposition = fleet_metrics(report, now=1_800_000_000.0)
    check_metrics(exposition, evaluate(report, lambda h: Thresholds()))
    text = exposition.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    total = families["flockops_gpu_memory_total_bytes"].samples
    assert [(s.labels["host"], s.labels["index"], s.value) for s in total] == [("gpu-a", "0", 80 * GIB),
                                                                               ("gpu-a", "1", 80 * GIB)]
    assert total[0].labels["name"] == 'quote " name'
    throttle = {s.labels["reason"]: s.value for s in families["flockops_gpu_throttle_active"].samples
                if s.labels["index"] == "0"}
    assert throttle["sw_power_cap"] == 1 and throttle["hw_slowdown"] == 0
    assert {s.labels["host"]: s.value for s in families["flockops_host_up"].samples} == {"gpu-a": 1, "down": 0}
    assert families["flockops_gpu_utilization_ratio"].samples[0].value == 0.4
    assert "flockops_gpu_power_watts" not in families  # unknown is absent, never 0
    assert families["flockops_check_status"].type == "gauge"
    path = write_textfile(str(tmp_path), text)
    assert Path(path).read_text() == text and [p.name for p in tmp_path.iterdir()] == ["flockops.prom"]


def test_consecutive_breaches_and_state_changes(tmp_path: Path) -> None:
    hot = fleet(HostReport("h", gpus=(gpu(temperature_c=88.0),)))
    cool = fleet(HostReport("h", gpus=(gpu(),)))
    state_file = tmp_path / "state" / "check-state.json"
    seen = []
    for report in (hot, hot, hot, cool):
        memory = load_state(state_file)
        raw = evaluate(report, lambda h: Thresholds())
        reported = apply_consecutive(raw, memory, needed=2)
        seen.append(next(i.state for i in reported if i.key == "h/gpu0/temperature"))
        seen.append([(old.name, new.state.name) for old, new in changes(reported, memory)])
        save_state(state_file, remember(raw, reported, memory))
    assert seen == [State.OK, [], State.CRITICAL, [("OK", "CRITICAL")], State.CRITICAL, [],
                    State.OK, [("CRITICAL", "OK")]]
    assert load_state(state_file)["h/gpu0/temperature"] == Memory(0, 0)


def test_damaged_state_file_costs_only_the_streaks(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("{not json")
    assert load_state(path) == {}


def test_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    with run_lock(tmp_path / "lock") as first, run_lock(tmp_path / "lock") as second:
        assert (first, second) == (True, False)
    with run_lock(tmp_path / "lock") as again:
        assert again


def test_ollama_spill_is_a_warning_on_gpu_hosts_only() -> None:
    from flockops.agent.ollama_model import OllamaModel, OllamaReport

    ollama = OllamaReport(url="http://gpu:11434", status="ok", models=(
        OllamaModel("llama3.1:70b", size_bytes=40 * GIB, vram_bytes=20 * GIB),
        OllamaModel("all-minilm", size_bytes=GIB, vram_bytes=GIB)))
    # Everything on CPU and no GPU device: nothing to spill from (VRAM held by Ollama would prove a GPU).
    on_cpu = OllamaReport(url="http://cpu:11434", status="ok", models=(
        OllamaModel("llama3.1:70b", size_bytes=40 * GIB, vram_bytes=0),))
    report = fleet(HostReport("gpu", gpus=(gpu(),), ollama=ollama), HostReport("cpu-only", ollama=on_cpu))
    got = states(report)
    assert got["gpu/ollama/llama3.1:70b"] == State.WARNING
    assert "gpu/ollama/all-minilm" not in got  # fully in VRAM
    assert not any(k.startswith("cpu-only/ollama") for k in got)  # no GPU to spill from
    # A lost GPU is no GPU to spill from either (as the report's own spill warnings judge it).
    lost = fleet(HostReport("lost", gpus=(replace(gpu(), lost=True),), ollama=on_cpu))
    assert not any(k.startswith("lost/ollama") for k in states(lost))
    families = {f.name: f for f in text_string_to_metric_families(fleet_metrics(report, now=1.0).text())}
    samples = families["flockops_ollama_model_vram_bytes"].samples
    vram = {(s.labels["host"], s.labels["model"]): s.value for s in samples}
    assert vram[("gpu", "llama3.1:70b")] == 20 * GIB


def test_what_a_partial_host_could_not_tell_is_unknown_never_ok() -> None:
    """NVIDIA answered, but the AMD drivers failed and an AMD GPU is on the PCI bus: that GPU may be
    the hot one, so the check is UNKNOWN, not OK. A failed Ollama counts only when spills are checked."""
    host = HostReport("gpu-a", gpus=(gpu(),), errors=(
        HostError("driver", "amdsmi", "amdsmi: library version mismatch"),
        HostError("driver", "pci", "an AMD GPU is on the PCI bus but no driver reported it (...)"),
        HostError("gpu_lost", "nvml", "GPU 3: lost"),  # has its own item with the GPU
    ))
    got = states(fleet(host))
    assert got["gpu-a/driver/amdsmi"] == State.UNKNOWN and got["gpu-a/driver/pci"] == State.UNKNOWN
    assert not any("gpu_lost" in key for key in got)
    assert overall(evaluate(fleet(host), lambda h: Thresholds())) == State.UNKNOWN


def test_a_hot_gpu_is_critical_even_beside_a_host_nobody_can_reach() -> None:
    """The worst item wins, CRITICAL above UNKNOWN above WARNING: one host down must not turn a hot
    GPU elsewhere into UNKNOWN (exit 3), nor a warm GPU hide a host that could not be read."""
    down = HostReport("ws-02", errors=(HostError("unreachable", "ssh", "connection refused"),))
    hot = HostReport("gpu-a", gpus=(gpu(temperature_c=88.0),))
    warm = HostReport("gpu-b", gpus=(gpu(temperature_c=83.0),))
    for hosts, expected in (((hot, down), State.CRITICAL), ((down, hot), State.CRITICAL),
                            ((warm, down), State.UNKNOWN), ((warm,), State.WARNING)):
        items = evaluate(fleet(*hosts), lambda h: Thresholds())
        assert overall(items) == expected, hosts
        assert render(items, overall(items)).startswith(f"FLOCKOPS {expected.name} - ")


def test_nagios_text_cannot_break_the_status_line_or_the_perfdata() -> None:
    host = HostReport("ws\n02", gpus=(gpu(),), errors=(
        HostError("driver", "amd-smi", "bash: line 1: a | b: command not found"),))
    items = evaluate(fleet(host), lambda h: Thresholds())
    text = render(items, overall(items))
    first = text.splitlines()[0]
    assert first.count("|") == 1 and "a / b: command not found" in first
    assert "'ws 02/gpu0 temperature'=60" in first
    assert all(line.startswith(("FLOCKOPS ", "UNKNOWN: ", "WARNING: ", "CRITICAL: ")) for line in text.splitlines())


def test_two_errors_of_one_kind_and_source_get_keys_of_their_own() -> None:
    """Keys name Prometheus series and --consecutive streaks: two would collide."""
    host = HostReport("hv1", gpus=(gpu(),), errors=(
        HostError("driver", "pci", "an AMD GPU is on the PCI bus but no driver reported it"),
        HostError("driver", "pci", "an Intel GPU is on the PCI bus but no driver reported it")))
    keys = [i.key for i in evaluate(fleet(host), lambda h: Thresholds()) if i.state == State.UNKNOWN]
    assert keys == ["hv1/driver/pci/an-amd-gpu", "hv1/driver/pci/an-intel-gpu"]


def test_the_first_line_is_short_and_starts_with_the_worst() -> None:
    hint = "unknown host key; add it with ssh-keyscan -H node >> ~/.ssh/known_hosts after checking its fingerprint " * 3
    hosts = [HostReport(f"node{i}", errors=(HostError("host_key", "ssh", hint),)) for i in range(5)]
    hot = HostReport("gpu9", gpus=(gpu(temperature_c=95.0),))
    items = evaluate(fleet(*hosts, hot), lambda h: Thresholds())
    first = render(items, overall(items)).splitlines()[0].split(" | ")[0]
    assert len(first) < 200, first
    assert first.startswith("FLOCKOPS CRITICAL - gpu9 GPU0 95 °C >= critical 87 °C") and first.endswith("more)")
    none = HostReport("cpu1", drivers=tuple(DriverAttempt(f"d{i}", "nvidia", "unavailable", "x" * 150, i)
                                            for i in range(7)))
    items = evaluate(fleet(none), lambda h: Thresholds())
    lines = render(items, overall(items)).splitlines()
    assert lines[0] == "FLOCKOPS UNKNOWN - cpu1 no GPU detected by 7 drivers"
    assert lines[1].startswith("UNKNOWN: cpu1 no GPU detected (d0: xxx")  # every reason, below
