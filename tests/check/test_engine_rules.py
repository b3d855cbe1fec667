"""check's engine rules: KV-cache pressure held for N runs, and a model on CPU on a GPU node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.engines import Standins
from support.gpus import h100
from support.paths import DATA
from support.units import GIB

from flockops.agent.engine_model import EngineReport
from flockops.agent.model import Engine, EngineStatus, FleetReport, GpuProcess, GpuSample, HostReport
from flockops.check.rules import State, Thresholds, evaluate

ENGINES = DATA / "engines"


def host(*engines: EngineReport, holders: tuple[GpuProcess, ...] = ()) -> FleetReport:
    gpu = GpuSample("nvidia", 0, "nvml", uuid="GPU-1", memory_total_bytes=80 * GIB, temperature_c=50.0,
                    throttle_reasons=(), processes=holders)
    return FleetReport((HostReport("gpu1", gpus=(gpu,), engines=engines),), "2026-12-08T00:00:00+00:00")


def items(report: FleetReport, t: Thresholds | None = None) -> dict[str, Any]:
    return {i.key: i for i in evaluate(report, lambda h: t or Thresholds())}


def test_kv_cache_pressure_of_vllm_and_sglang_only() -> None:
    full = EngineReport(Engine.VLLM, "http://127.0.0.1:8000", EngineStatus.OK, models=("m",), kv_cache_usage_ratio=0.93)
    calm = EngineReport(Engine.SGLANG, "http://127.0.0.1:30000", EngineStatus.OK, kv_cache_usage_ratio=0.28)
    llama = EngineReport(Engine.LLAMA_CPP, "http://127.0.0.1:8080", EngineStatus.OK, kv_cache_usage_ratio=0.99)
    unknown = EngineReport(Engine.VLLM, "http://127.0.0.1:8001", EngineStatus.OK)  # no /metrics: no item, no guess
    got = items(host(full, calm, llama, unknown))
    vllm = got["gpu1/vllm/http://127.0.0.1:8000/kv_cache"]
    assert (vllm.state, vllm.runs) == (State.WARNING, 3) and "93% >= 90%" in vllm.text
    assert got["gpu1/sglang/http://127.0.0.1:30000/kv_cache"].state == State.OK
    assert not any("llama.cpp" in key or "8001" in key for key in got)
    assert items(host(full), Thresholds(kv_cache_warn_pct=95))["gpu1/vllm/http://127.0.0.1:8000/kv_cache"].state == \
        State.OK


def test_a_model_on_cpu_for_every_engine_that_says_so() -> None:
    tgi = EngineReport(Engine.TGI, "http://10.0.0.5:3000", EngineStatus.OK, models=("bigscience/bloom-560m",),
                       model_on_cpu=True)
    llama = GpuProcess(pid=7, memory_used_bytes=GIB, engine=Engine.LLAMA_CPP, engine_pid=7, model="x.gguf",
                       model_on_cpu=True)
    got = [i for i in items(host(tgi, holders=(llama,))).values() if i.key.endswith("/cpu")]
    assert sorted((i.state, i.text) for i in got) == [
        (State.WARNING, "gpu1 llama.cpp: x.gguf runs on CPU although this node has a GPU (its flags keep the model's "
                        "layers off the GPU)"),
        (State.WARNING, "gpu1 tgi: bigscience/bloom-560m runs on CPU although this node has a GPU "
                        "(http://10.0.0.5:3000 says so)")]


def test_kv_cache_pressure_alerts_after_n_runs_through_the_real_check(flockops, nvml_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A real process with vLLM's command line serving a 96 %-full KV cache; state kept across runs."""
    with Standins(tmp_path / "engines") as engines:
        vllm = engines.start(["vllm", "serve", "/models/Qwen2.5-7B-Instruct"],
                             {"/metrics": ENGINES / "constructed-metrics-vllm-v1-two-engines-kv-cache-usage-perc.txt"})
        env = nvml_env([h100(temperature=40, clocks_event_reasons=0, process=[(vllm.pid, 60 * GIB)])])
        state = tmp_path / "state.json"
        runs = [flockops("check", "--no-ollama", "--kv-cache-runs", "2", "--state-file", str(state), env=env)
                for _ in range(2)]
    first, second = runs
    assert first.returncode == 0 and "KV cache 96% >= 90%" in first.stdout and "breach 1 of 2" in first.stdout
    assert second.returncode == 1 and second.stdout.startswith("FLOCKOPS WARNING"), second.stdout
    assert "Traceback" not in first.stderr + second.stderr
