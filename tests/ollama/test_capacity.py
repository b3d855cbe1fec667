"""`flockops fit` and the Python API: which GPUs and nodes can hold a model now, on mixed fleets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.ollama_server import FakeOllama, free_port
from support.paths import DATA
from support.units import GIB, MIB

import flockops
from flockops.agent.model import DriverAttempt, FleetReport, GpuSample, HostReport
from flockops.agent.ollama_model import OllamaModel, OllamaReport
from flockops.ollama.capacity import default_margin, parse_margin, parse_size, plan

OLLAMA = DATA / "ollama"
NVML_USED = (DriverAttempt("nvml", "nvidia", "used", None, 10),)


@pytest.mark.parametrize(("text", "size"), [
    ("40GiB", 40 * GIB), ("40GB", 40 * 10**9), ("40gb", 40 * 10**9), ("512MiB", 512 * MIB), ("1.5 TiB", 3 << 39),
    ("4700000000", 4_700_000_000), ("100B", 100), ("2kib", 2048),
    ("llama3.1:70b", None), ("7b", None), ("mistral", None),
])
def test_parse_size(text: str, size: int | None) -> None:
    assert parse_size(text) == size


def test_parse_size_refuses_to_guess_a_bare_g() -> None:
    with pytest.raises(ValueError, match="GiB .binary. or GB .decimal."):
        parse_size("40G")


def test_margin() -> None:
    assert default_margin(40 * GIB) == 4 * GIB
    assert default_margin(2 * GIB) == GIB  # at least 1 GiB
    assert parse_margin("15%", 40 * GIB) == 6 * GIB
    assert parse_margin("2GiB", 40 * GIB) == 2 * GIB
    with pytest.raises(ValueError):
        parse_margin("lots", GIB)


def gpu(index: int, free: int | None, total: int = 80 * GIB, **extra: Any) -> GpuSample:
    used = None if free is None else total - free
    extra.setdefault("throttle_reasons", ())
    return GpuSample(vendor="nvidia", index=index, source="nvml", memory_total_bytes=total,
                     memory_used_bytes=used, memory_free_bytes=free, **extra)


def fleet(*hosts: HostReport) -> FleetReport:
    return FleetReport(hosts=hosts, generated_at="2025-01-01T00:00:00+00:00")


def ollama_only(url: str, *models: OllamaModel) -> HostReport:
    return HostReport(url, ollama=OllamaReport(url, "ok", models=models, endpoint_from="command line"))


MIXED = fleet(
    # Device only: the hot GPU has the most room and must be skipped.
    HostReport("gpu-a", gpus=(gpu(0, 70 * GIB, temperature_c=90, throttle_reasons=("hw_thermal_slowdown",)),
                              gpu(1, 50 * GIB, temperature_c=60)), drivers=NVML_USED),
    # Both device and Ollama: a bigger headroom, and a lost GPU.
    HostReport("gpu-b", gpus=(gpu(0, 60 * GIB, temperature_c=55),
                              GpuSample("nvidia", 1, "nvml", lost=True, lost_reason="fell off the bus")),
               drivers=NVML_USED,
               ollama=OllamaReport("http://gpu-b:11434", "ok", models=(OllamaModel("mistral:latest", 5 * GIB,
                                                                                   5 * GIB),))),
    # Two small GPUs: only a split holds 40 GiB.
    HostReport("gpu-c", gpus=(gpu(0, 30 * GIB, total=48 * GIB), gpu(1, 30 * GIB, total=48 * GIB)), drivers=NVML_USED),
    # Ollama only: cannot tell its free VRAM.
    ollama_only("http://10.0.0.9:11434", OllamaModel("llama3.1:70b", 40 * GIB, 40 * GIB)),
    # Software thermal slowdown counts too; and a GPU whose free memory is unknown.
    HostReport("gpu-d", gpus=(gpu(0, 79 * GIB, throttle_reasons=("sw_thermal_slowdown", "sw_power_cap")),
                              gpu(1, None)), drivers=NVML_USED),
)


def test_mixed_fleet_best_first() -> None:
    result = plan(MIXED, 40 * GIB)
    assert result.needed_bytes == 44 * GIB
    assert [(p.host, p.kind, p.gpus, p.headroom_bytes) for p in result.candidates] == [
        ("gpu-b", "gpu", (0,), 16 * GIB),
        ("gpu-a", "gpu", (1,), 6 * GIB),
        ("gpu-c", "node", (0, 1), 16 * GIB),  # a split comes after every single GPU
    ]
    assert result.candidates[0].ollama_url == "http://gpu-b:11434"
    assert {(s.host, s.gpu): s.reason for s in result.skipped} == {
        ("gpu-a", 0): "thermally throttling (hw_thermal_slowdown)",
        ("gpu-b", 1): "lost (fell off the bus)",
        ("http://10.0.0.9:11434", None): "no device data: Ollama's /api/ps tells what it reserved, not what is free",
        ("gpu-d", 0): "thermally throttling (sw_thermal_slowdown)",
        ("gpu-d", 1): "free VRAM unknown",
    }


def test_ties_go_to_the_cooler_gpu() -> None:
    twins = fleet(HostReport("warm", gpus=(gpu(0, 60 * GIB, temperature_c=70),), drivers=NVML_USED),
                  HostReport("cool", gpus=(gpu(0, 60 * GIB, temperature_c=40),), drivers=NVML_USED))
    assert [p.host for p in plan(twins, 10 * GIB).candidates] == ["cool", "warm"]


def test_nothing_fits_says_so() -> None:
    result = plan(MIXED, 200 * GIB)
    assert result.candidates == () and result.best is None
    assert flockops.best_node(MIXED, 200 * GIB) is None


def test_failed_hosts_are_skipped_with_their_status() -> None:
    from flockops.agent.model import HostError

    down = HostReport("down", errors=(HostError("unreachable", "ssh", "refused"),))
    assert [(s.host, s.reason) for s in plan(fleet(down), GIB).skipped] == [("down", "host unreachable")]


def test_python_api_best_node() -> None:
    best = flockops.best_node(MIXED, flockops.parse_size("40GiB") or 0)
    assert best is not None and (best.host, best.gpus) == ("gpu-b", (0,))
    tight = flockops.best_node(MIXED, 40 * GIB, margin_bytes=12 * GIB)
    assert tight is not None and tight.host == "gpu-b" and tight.headroom_bytes == 8 * GIB
    assert flockops.fit(MIXED, 40 * GIB, 0).candidates[1].headroom_bytes == 10 * GIB


def test_already_loaded_is_said() -> None:
    result = plan(MIXED, 40 * GIB, model="llama3.1:70b")
    assert result.loaded_on == (("http://10.0.0.9:11434", "gpu"),)


# ---------------------------------------------------------------------------------------------
# The command line, against the fake NVML and fake Ollama servers


def h100(free: int, **extra: Any) -> dict[str, Any]:
    return {"name": "NVIDIA H100 80GB HBM3", "memory_total": 80 * GIB, "memory_used": 80 * GIB - free,
            "memory_free": free, "temperature": 50, "temp_slowdown": 87, **extra}


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        server.route("GET", "/api/ps", body=OLLAMA / "api-ps-ollama-docs-mistral-example.json")
        server.route("GET", "/api/tags", body=OLLAMA / "api-tags-ollama-docs-2models-example.json")
        yield server


@pytest.fixture
def env(nvml_env, ollama: FakeOllama) -> dict[str, str]:  # type: ignore[no-untyped-def]
    # GPU 0 is hot (hw_thermal_slowdown) with the most room; GPU 1 is cool with less.
    env: dict[str, str] = nvml_env([h100(70 * GIB, temperature=92, clocks_event_reasons=0x40), h100(50 * GIB)])
    env["OLLAMA_HOST"] = f"127.0.0.1:{ollama.port}"
    return env


def test_fit_cli_mixed(env: dict[str, str], flockops) -> None:  # type: ignore[no-untyped-def]
    with FakeOllama() as other:
        other.route("GET", "/api/ps", body=OLLAMA / "ps" / "empty.json")
        run = flockops("fit", "40GiB", "--ollama", other.url, env=env)
    assert run.returncode == 0, run.stderr
    assert "Can hold 40.0 GiB + 4.0 GiB margin = 44.0 GiB now, best first:" in run.stdout
    first = next(line for line in run.stdout.splitlines() if line.startswith("1 "))
    assert "localhost" in first and "50.0 GiB" in first and "6.0 GiB" in first and "one GPU" in first
    assert "  localhost GPU 0: thermally throttling (hw_thermal_slowdown)" in run.stdout
    assert f"  {other.url}: no device data" in run.stdout


def test_fit_cli_json_and_model_names(env: dict[str, str], flockops) -> None:  # type: ignore[no-untyped-def]
    run = flockops("fit", "llama3.2", "-o", "json", "--margin", "1GiB", env=env)
    assert run.returncode == 0, run.stderr
    answer = run.json()
    # /api/tags says llama3.2:latest is 2019393189 bytes (the docs example).
    assert (answer["model"], answer["size_bytes"], answer["margin_bytes"]) == ("llama3.2:latest", 2019393189, GIB)
    assert answer["fits"] is True and answer["candidates"][0]["gpus"] == [1]
    assert answer["candidates"][0]["ollama_url"] == f"http://127.0.0.1:{env['OLLAMA_HOST'].split(':')[1]}"
    assert answer["loaded_on"] == []  # /api/ps has only mistral:latest loaded


def test_fit_cli_none_and_errors(env: dict[str, str], flockops) -> None:  # type: ignore[no-untyped-def]
    none = flockops("fit", "500GB", env=env)
    assert none.returncode == 5
    assert "Nothing can hold 465.7 GiB + 46.6 GiB margin = 512.2 GiB now." in none.stdout
    ambiguous = flockops("fit", "40G", env=env)
    assert ambiguous.returncode == 1 and "say GiB (binary) or GB (decimal)" in ambiguous.stderr
    unknown = flockops("fit", "no-such-model", env=env)
    assert unknown.returncode == 1 and "no Ollama knows a model named 'no-such-model'" in unknown.stderr
    nobody = flockops("fit", "mistral", env={**env, "OLLAMA_HOST": f"127.0.0.1:{free_port()}"})
    assert nobody.returncode == 1 and "no Ollama answered" in nobody.stderr
    assert "5  flockops fit: no GPU or node can hold SIZE now" in flockops("fit", "--help").stdout


def test_python_api_collect_report(ollama: FakeOllama) -> None:
    with FakeOllama() as gpu_node:
        gpu_node.route("GET", "/api/ps", body=OLLAMA / "ps" / "size-vram-partial.json")
        report = flockops.collect_report(ollama_urls=[ollama.url, gpu_node.url, ollama.url], local_ollama=False)
    me, first, second = report.hosts  # this machine, then each URL once, in the order given
    assert me.ollama is None and me.drivers
    assert (first.host, first.gpus, first.status) == (ollama.url, (), "ok")
    assert first.ollama is not None and [m.name for m in first.ollama.models] == ["mistral:latest"]
    assert second.ollama is not None and second.ollama.gpu_accelerated == "partial" and second.warnings
    # Ollama-only nodes cannot say what is free: never a placement, whatever they hold.
    assert all(p.host == me.host for p in flockops.fit(report, GIB).candidates)
