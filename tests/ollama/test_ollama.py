"""Ollama as a source: a real HTTP server on loopback replays recorded and written bodies."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.ollama_server import FakeOllama, free_port
from support.paths import DATA
from support.units import GIB

from flockops.agent.codec import host_from_dict, host_to_dict, ollama_to_dict
from flockops.agent.model import DriverAttempt, GpuSample, HostReport
from flockops.agent.ollama_model import OllamaModel, OllamaReport
from flockops.errors import InventoryError
from flockops.ollama.client import OllamaOptions
from flockops.ollama.endpoints import (
    DEFAULT_URL,
    FROM_CLI,
    FROM_DEFAULT,
    FROM_ENV,
    FROM_INVENTORY,
    OllamaEndpoint,
    OllamaUrlError,
    endpoint_for,
    local_endpoint,
    normalize_url,
)
from flockops.ollama.inference import infer
from flockops.ollama.query import Pending, query
from flockops.remote.settings import Target
from flockops.render.ollama import processor, until
from flockops.render.report import fleet_table

OLLAMA = DATA / "ollama"
PS_CASES = sorted(p for p in (OLLAMA / "ps").glob("*.json") if not p.name.endswith(".expected.json"))
FAST = OllamaOptions(connect_timeout_s=1.0, read_timeout_s=0.5)


@pytest.fixture
def server() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake


def gpu(used: int = 30 * GIB, total: int = 80 * GIB, **extra: Any) -> GpuSample:
    return GpuSample(vendor="nvidia", index=extra.pop("index", 0), source="nvml", name="NVIDIA H100 80GB HBM3",
                     memory_total_bytes=total, memory_used_bytes=used, memory_free_bytes=total - used, **extra)


NVML_USED = (DriverAttempt("nvml", "nvidia", "used", None, 10),)


# ---------------------------------------------------------------------------------------------
# /api/ps bodies


@pytest.mark.parametrize("case", PS_CASES, ids=lambda p: p.stem)
def test_ps_case(case: Path, server: FakeOllama) -> None:
    server.route("GET", "/api/ps", body=case)
    report = query(OllamaEndpoint(server.url, FROM_CLI), FAST)
    got = ollama_to_dict(HostReport(host=server.url, ollama=report))
    assert got is not None
    assert got.pop("url") == server.url
    assert got == json.loads(case.with_suffix(".expected.json").read_text())


def test_version_from_the_docs_example(server: FakeOllama) -> None:
    server.route("GET", "/api/ps", body=OLLAMA / "api-ps-ollama-docs-mistral-example.json")
    server.route("GET", "/api/version", body=OLLAMA / "api-version-ollama-docs-0.5.1-example.json")
    report = query(OllamaEndpoint(server.url), FAST)
    assert (report.status, report.version, report.error) == ("ok", "0.5.1", None)
    # Both requests went over one keep-alive connection, and nothing else was asked.
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/api/ps"), ("GET", "/api/version")]


# ---------------------------------------------------------------------------------------------
# Failures: each one a status and a reason, never an exception


def test_refused_on_the_implicit_default_is_not_running() -> None:
    port = free_port()
    started = time.monotonic()
    report = query(OllamaEndpoint(f"http://127.0.0.1:{port}", FROM_DEFAULT), FAST)
    assert report.status == "not_running" and "refused" in (report.error or "")
    assert time.monotonic() - started < 0.5  # a refused connect is instant: the local report stays fast
    assert query(OllamaEndpoint(f"http://127.0.0.1:{port}", FROM_ENV), FAST).status == "not_running"


def test_refused_on_a_configured_endpoint_is_unreachable() -> None:
    report = query(OllamaEndpoint(f"http://127.0.0.1:{free_port()}", FROM_INVENTORY), FAST)
    assert report.status == "unreachable" and "connection refused" in (report.error or "")


def test_unresolvable_name_is_unreachable() -> None:
    report = query(OllamaEndpoint("http://no-such-host.invalid:11434", FROM_CLI), FAST)
    assert report.status == "unreachable" and "cannot resolve no-such-host.invalid" in (report.error or "")


def test_a_name_idna_refuses_is_unreachable() -> None:
    report = query(OllamaEndpoint("http://gpu\u200f01.example:11434", FROM_CLI), FAST)
    assert report.status == "unreachable" and "not a host name" in (report.error or "")


def test_json_nested_past_the_recursion_limit(server: FakeOllama) -> None:
    server.route("GET", "/api/ps", body="[" * 100_000 + "]" * 100_000)
    report = query(OllamaEndpoint(server.url), FAST)
    assert report.status == "error"
    assert report.error == "/api/ps: JSON nested too deeply to read (is this an Ollama server?)"


def test_slow_answer_times_out_with_its_reason(server: FakeOllama) -> None:
    server.route("GET", "/api/ps", body={"models": []}, hold=True)  # answers only once released
    started = time.monotonic()
    report = query(OllamaEndpoint(server.url), OllamaOptions(read_timeout_s=0.3))
    elapsed = time.monotonic() - started
    server.release.set()
    assert report.status == "error"
    assert report.error == "no answer to GET /api/ps within 0.3 s"
    assert elapsed < 2.0


def test_http_500_keeps_ollamas_own_message(server: FakeOllama) -> None:
    server.route("GET", "/api/ps", status=500, body={"error": "llama runner process has terminated"})
    report = query(OllamaEndpoint(server.url), FAST)
    assert report.status == "error"
    assert report.error == "/api/ps: HTTP 500 Internal Server Error: llama runner process has terminated"


def test_garbage_is_not_json(server: FakeOllama) -> None:
    server.route("GET", "/api/ps", body="<html><body>It works!</body></html>")
    report = query(OllamaEndpoint(server.url), FAST)
    assert report.status == "error"
    assert report.error is not None and report.error.startswith("/api/ps: not JSON (is this an Ollama server?)")
    assert "It works!" in report.error


def test_old_server_plain_text_404(server: FakeOllama) -> None:
    # Ollama before 0.1.38 has no /api/ps: Go's default "404 page not found", text/plain.
    server.route("GET", "/api/version", body={"version": "0.1.32"})
    report = query(OllamaEndpoint(server.url), FAST)
    assert report.status == "error"
    assert report.error == "this Ollama predates /api/ps (added in 0.1.38): 404 page not found"
    assert report.version == "0.1.32"


def test_malformed_entry_is_quoted(server: FakeOllama) -> None:
    server.route("GET", "/api/ps", body={"models": [{"name": "x", "size": "big"}]})
    report = query(OllamaEndpoint(server.url), FAST)
    assert report.status == "error" and "size is not a whole number" in (report.error or "")
    assert "'big'" in (report.error or "")


def test_missing_version_route_is_no_error(server: FakeOllama) -> None:
    server.route("GET", "/api/ps", body={"models": []})
    report = query(OllamaEndpoint(server.url), FAST)
    assert (report.status, report.version) == ("ok", None)


def test_endpoints_are_asked_concurrently_each_with_its_deadline() -> None:
    servers = [FakeOllama().start() for _ in range(3)]
    try:
        for fake in servers[:2]:
            fake.route("GET", "/api/ps", body={"models": []}, hold=True)
        servers[2].route("GET", "/api/ps", body=OLLAMA / "ps" / "docs-mistral.json")
        started = time.monotonic()
        reports = Pending([OllamaEndpoint(s.url) for s in servers], OllamaOptions(read_timeout_s=0.6)).wait()
        elapsed = time.monotonic() - started
    finally:
        for fake in servers:
            fake.stop()
    assert [r.status for r in reports] == ["error", "error", "ok"]
    # One after the other, the two held endpoints alone would take 1.2 s.
    assert elapsed < 1.1, elapsed


# ---------------------------------------------------------------------------------------------
# Where to ask


@pytest.mark.parametrize(("value", "url"), [
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("0.0.0.0:11434", "http://127.0.0.1:11434"),
    (":11435", "http://127.0.0.1:11435"),
    ("gpu-box", "http://gpu-box:11434"),
    ("gpu-box:8080", "http://gpu-box:8080"),
    ("http://gpu-box", "http://gpu-box:80"),  # Ollama's rule: an explicit scheme's own default port
    ("https://ollama.example.com", "https://ollama.example.com:443"),
    ("http://10.0.0.5:11434/", "http://10.0.0.5:11434"),
    ("https://proxy.example.com/ollama/", "https://proxy.example.com:443/ollama"),
    ("  '10.0.0.5:1234' ", "http://10.0.0.5:1234"),
    ('"10.0.0.5"', "http://10.0.0.5:11434"),
    ("[::1]:11434", "http://[::1]:11434"),
    ("::1", "http://[::1]:11434"),
    ("HTTP://Box:1", "http://Box:1"),
])
def test_normalize_url_follows_ollama_host(value: str, url: str) -> None:
    assert normalize_url(value) == url


@pytest.mark.parametrize("value", ["ftp://box", "box:99999", "box:port"])
def test_normalize_url_refuses(value: str) -> None:
    with pytest.raises(OllamaUrlError):
        normalize_url(value)


def test_local_endpoint() -> None:
    assert local_endpoint({}) == OllamaEndpoint(DEFAULT_URL, FROM_DEFAULT)
    assert local_endpoint({"OLLAMA_HOST": "0.0.0.0:11500"}) == OllamaEndpoint("http://127.0.0.1:11500", FROM_ENV)
    assert local_endpoint({"OLLAMA_HOST": "box:notaport"}) == OllamaEndpoint(DEFAULT_URL, FROM_DEFAULT)


@pytest.mark.parametrize(("variables", "url"), [
    ({"ollama_url": "http://10.0.0.9:11434"}, "http://10.0.0.9:11434"),
    ({"ollama_url": "10.0.0.9"}, "http://10.0.0.9:11434"),
    ({"ollama": True}, "http://192.0.2.7:11434"),
    ({"ollama": "yes"}, "http://192.0.2.7:11434"),
    ({"ollama": False}, None),
    ({"ollama": "off"}, None),
    ({}, None),
    ({"ollama": True, "ollama_url": "http://elsewhere:1"}, "http://elsewhere:1"),
])
def test_inventory_variables(variables: dict[str, Any], url: str | None) -> None:
    endpoint = endpoint_for(Target(name="gpu1", address="192.0.2.7", vars=variables))
    assert (endpoint.url if endpoint else None) == url
    assert endpoint is None or endpoint.endpoint_from == FROM_INVENTORY


def test_inventory_ipv6_and_local_addresses() -> None:
    assert endpoint_for(Target(name="v6", address="2001:db8::7", vars={"ollama": True})) == OllamaEndpoint(
        "http://[2001:db8::7]:11434", FROM_INVENTORY)
    assert endpoint_for(Target(name="me", address="me", connection="local", vars={"ollama": True})) == OllamaEndpoint(
        "http://127.0.0.1:11434", FROM_INVENTORY)


@pytest.mark.parametrize(("variables", "words"), [
    ({"ollama": "maybe"}, "must be a boolean"),
    ({"ollama_url": "{{ lookup('env', 'X') }}"}, "Jinja template"),
    ({"ollama_url": "ftp://x"}, "only http:// and https://"),
])
def test_inventory_variable_errors(variables: dict[str, Any], words: str) -> None:
    with pytest.raises(InventoryError, match=words):
        endpoint_for(Target(name="gpu1", address="192.0.2.7", vars=variables))


# ---------------------------------------------------------------------------------------------
# The host report: status, spill, device beside Ollama, JSON round trip


def ok(*models: OllamaModel) -> OllamaReport:
    return OllamaReport("http://192.0.2.7:11434", "ok", version="0.5.1", models=models, endpoint_from=FROM_INVENTORY)


def test_status_considers_ollama_without_touching_the_gpus() -> None:
    device = HostReport("gpu1", gpus=(gpu(),), drivers=NVML_USED)
    error = OllamaReport("http://192.0.2.7:11434", "error", "HTTP 500", endpoint_from=FROM_INVENTORY)
    unreachable = OllamaReport("http://192.0.2.7:11434", "unreachable", "refused", endpoint_from=FROM_INVENTORY)
    not_running = OllamaReport(DEFAULT_URL, "not_running", "refused")
    assert HostReport("gpu1", gpus=(gpu(),), drivers=NVML_USED, ollama=error).status == "partial"
    assert HostReport("gpu1", gpus=(gpu(),), drivers=NVML_USED, ollama=unreachable).status == "partial"
    assert HostReport("gpu1", gpus=(gpu(),), drivers=NVML_USED, ollama=not_running).status == "ok"
    assert HostReport("gpu1", gpus=(gpu(),), drivers=NVML_USED, ollama=ok()).status == "ok"
    with_error = HostReport("gpu1", gpus=(gpu(),), drivers=NVML_USED, ollama=error)
    assert with_error.gpus == device.gpus
    assert [(e.kind, e.source) for e in with_error.all_errors] == [("ollama_error", "ollama")]
    assert with_error.errors == ()  # derived, not stored
    # Known only by URL: the endpoint is the host.
    assert HostReport("http://x:11434", ollama=ok()).status == "ok"
    assert HostReport("http://x:11434", ollama=unreachable).status == "unreachable"
    assert HostReport("http://x:11434", ollama=error).status == "failed"


def test_ssh_down_but_ollama_answers_is_partial() -> None:
    from flockops.agent.model import HostError

    down = (HostError("unreachable", "ssh", "connection refused"),)
    assert HostReport("gpu1", errors=down).status == "unreachable"
    assert HostReport("gpu1", errors=down, ollama=ok()).status == "partial"


def test_spill_is_flagged_only_where_a_gpu_is_known() -> None:
    on_cpu = OllamaModel("mxbai-embed-large:latest", 705_400_000, 0)
    split = OllamaModel("llama3.1:70b", 10_000_000_000, 4_800_000_000)
    whole = OllamaModel("mistral:latest", 5_137_025_024, 5_137_025_024)
    with_gpu = HostReport("gpu1", gpus=(gpu(),), drivers=NVML_USED, ollama=ok(on_cpu, whole))
    assert [m["spilled"] for m in host_to_dict(with_gpu)["ollama"]["models"]] == [True, False]
    assert [w.message for w in with_gpu.warnings] == [
        "mxbai-embed-large:latest is wholly on CPU (in RAM) although this node has a GPU"]
    assert with_gpu.status == "ok"  # a warning, not a failure
    # No device data and nothing in VRAM: maybe a CPU-only node; nothing to flag.
    assert HostReport("http://x:11434", ollama=ok(on_cpu)).warnings == ()
    # Ollama holding anything in VRAM proves a GPU, so the split model is a spill.
    split_host = HostReport("http://x:11434", ollama=ok(split))
    assert [w.message for w in split_host.warnings] == [
        "llama3.1:70b is 52% on CPU (in RAM) although this node has a GPU"]
    assert host_to_dict(split_host)["warnings"][0]["kind"] == "ollama_spill"


def test_device_beside_ollama() -> None:
    host = HostReport("gpu1", gpus=(gpu(used=30 * GIB),), drivers=NVML_USED,
                      ollama=ok(OllamaModel("big", 20 * GIB, 20 * GIB)))
    assert host_to_dict(host)["vram_breakdown"] == {"device_used_bytes": 30 * GIB,
                                                    "ollama_reserved_bytes": 20 * GIB,
                                                    "other_bytes": 10 * GIB, "ollama_exceeds_device": False}
    over = HostReport("gpu1", gpus=(gpu(used=10 * GIB),), drivers=NVML_USED,
                      ollama=ok(OllamaModel("big", 12 * GIB, 12 * GIB)))
    assert host_to_dict(over)["vram_breakdown"]["other_bytes"] == 0
    text = fleet_table(_fleet(over))
    assert "VRAM: device used 10.0 GiB | Ollama reserved 12.0 GiB | other 0.0 GiB (Ollama reserves more" in text
    assert "reservations, not device usage (ollama/ollama#10505)" in text
    assert host_to_dict(HostReport("gpu1", gpus=(gpu(),), drivers=NVML_USED))["vram_breakdown"] is None


def test_json_round_trip() -> None:
    from flockops.agent.ollama_model import InferenceVerdict

    verdict = InferenceVerdict("gpu-likely", "all-minilm", 8.5, 5, "server", reason="median ...")
    models = (OllamaModel("llama3.1:70b", 10_000_000_000, 4_800_000_000, 8192, "2318-11-24T14:03:49+01:00",
                          "llama", "70.6B", "Q4_K_M"),)
    host = HostReport("gpu1", gpus=(gpu(),), drivers=NVML_USED,
                      ollama=OllamaReport("http://h:11434", "ok", None, "0.5.1", models, FROM_INVENTORY, verdict))
    data = json.loads(json.dumps(host_to_dict(host)))
    assert data["inference"]["source"] == "inferred" and "inference" not in data["ollama"]
    again = host_from_dict(data)
    assert again.ollama == host.ollama and again.gpus == host.gpus and again.status == host.status
    failed = HostReport("gpu1", gpus=(gpu(),), drivers=NVML_USED,
                        ollama=OllamaReport("http://h:11434", "error", "HTTP 500", endpoint_from=FROM_INVENTORY))
    data = json.loads(json.dumps(host_to_dict(failed)))
    assert [e["kind"] for e in data["errors"]] == ["ollama_error"]
    assert host_from_dict(data).errors == ()  # rebuilt from "ollama", not stored twice
    assert "inference" not in host_to_dict(failed)


@pytest.mark.parametrize(("size", "vram", "shown"), [
    (100, 0, "100% CPU"), (100, 100, "100% GPU"), (100, 48, "52%/48% CPU/GPU"), (1000, 995, "1%/99% CPU/GPU"),
    (100, 150, "Unknown"), (0, 5, "Unknown"), (None, 5, "Unknown"),
])
def test_processor_as_ollama_ps_prints_it(size: int | None, vram: int, shown: str) -> None:
    assert processor(OllamaModel("m", size, vram)) == shown


@pytest.mark.parametrize(("expires", "shown"), [
    ("2318-11-24T14:03:49.123456789+01:00", "forever"),
    ("2024-06-04T14:38:31.83753-07:00", "2024-06-04 14:38:31 -07:00"),
    ("2025-09-30T09:00:00Z", "2025-09-30 09:00:00 UTC"),
    ("2024-05-20T17:05:31.2149812Z", "2024-05-20 17:05:31 UTC"),  # 7 digits: Python 3.10's fromisoformat refuses them
    ("2025-08-08T00:07:26.817827822+02:00", "2025-08-08 00:07:26 +02:00"),  # 9, from a real server (nirmato#13)
    ("2024-05-20T10:05:31.214981-07:00", "2024-05-20 10:05:31 -07:00"),  # 6
    (None, "N/A"),
])
def test_until(expires: str | None, shown: str) -> None:
    assert until(expires) == shown


def _fleet(*hosts: HostReport):  # type: ignore[no-untyped-def]
    from flockops.agent.model import FleetReport

    return FleetReport(hosts=hosts, generated_at="2025-01-01T00:00:00+00:00")


def test_table_shows_models_placement_and_spill() -> None:
    host = HostReport("gpu1", gpus=(gpu(used=40 * GIB),), drivers=NVML_USED, ollama=ok(
        OllamaModel("llama3.1:70b", 10_000_000_000, 4_800_000_000, 8192, "2318-11-24T14:03:49+01:00", "llama",
                    "70.6B", "Q4_K_M")))
    text = fleet_table(_fleet(host))
    assert "Ollama 0.5.1 at http://192.0.2.7:11434: 1 model | in VRAM 4.5 GiB | in RAM 4.8 GiB | " \
           "GPU-accelerated: partial" in text
    row = next(line for line in text.splitlines() if line.startswith("llama3.1:70b"))
    assert "52%/48% CPU/GPU" in row and "8192" in row and "forever" in row and "SPILLED" in row
    assert "! ollama_spill (ollama): llama3.1:70b is 52% on CPU" in text
    summary = fleet_table(_fleet(host), summary=True)
    assert "1 loaded, 4.5 GiB VRAM, 1 spilled" in summary


def test_a_placement_nobody_can_tell_reads_na_not_none(server: FakeOllama) -> None:
    server.route("GET", "/api/ps", body=OLLAMA / "ps" / "size-vram-null.json")
    text = fleet_table(_fleet(HostReport(host=server.url, ollama=query(OllamaEndpoint(server.url), FAST))))
    assert "GPU-accelerated: N/A" in text and "None" not in text


def test_impossible_sizes_are_unknown_not_figures(server: FakeOllama) -> None:
    server.route("GET", "/api/ps", body=OLLAMA / "ps" / "impossible-sizes.json")
    text = fleet_table(_fleet(HostReport(host=server.url, ollama=query(OllamaEndpoint(server.url), FAST))))
    assert "-0.0" not in text and "GiB" in text
    assert not re.search(r"\d{6,}\.\d GiB", text)  # 10^26 bytes would be 93,132,257,461,547,851.6 GiB
    huge = next(line for line in text.splitlines() if line.startswith("huge:latest"))
    assert "N/A" in huge and "Unknown" in huge


def test_a_version_with_a_suffix_is_kept_whole(server: FakeOllama) -> None:
    server.route("GET", "/api/ps", body=OLLAMA / "ps" / "nirmato-gemma3-9-digit-expiry.json")
    server.route("GET", "/api/version", body=OLLAMA / "api-version-openwebui-i1800-v0.1.33-rc5.json")
    report = query(OllamaEndpoint(server.url), FAST)
    assert (report.status, report.version) == ("ok", "v0.1.33-rc5")
    assert f"Ollama v0.1.33-rc5 at {server.url}: 1 model" in fleet_table(_fleet(HostReport(host=server.url,
                                                                                          ollama=report)))


def test_a_server_that_wants_credentials_says_so(server: FakeOllama) -> None:
    # ollama.com's answer without a key (server/cloud_proxy.go: {"error": "unauthorized"}, HTTP 401).
    server.route("GET", "/api/ps", status=401, body={"error": "unauthorized"})
    report = query(OllamaEndpoint(server.url), FAST)
    assert report.status == "error"
    assert report.error == ("/api/ps: HTTP 401 Unauthorized: unauthorized (this server wants credentials, as "
                            "ollama.com does; flockops reads Ollama servers that do not)")


# ---------------------------------------------------------------------------------------------
# --infer: timing embeddings, a labelled guess


def embed(server: FakeOllama, total_ns: int | None = None, delay_s: float = 0.0, status: int = 200,
          body: Any = None) -> None:
    answer = body if body is not None else {"model": "all-minilm", "embeddings": [[0.1, 0.2]]}
    if total_ns is not None:
        answer = {**answer, "total_duration": total_ns, "load_duration": 1_000_000}
    server.route("POST", "/api/embed", status=status, body=answer, delay_s=delay_s)


@pytest.mark.parametrize(("total_ns", "verdict"), [
    (8_000_000, "gpu-likely"), (50_000_000, "unknown"), (240_000_000, "cpu-likely")])
def test_infer_uses_ollamas_own_duration(server: FakeOllama, total_ns: int, verdict: str) -> None:
    embed(server, total_ns=total_ns)
    result = infer(server.url, OllamaOptions(infer_runs=3))
    assert (result.verdict, result.basis, result.runs, result.source) == (verdict, "server", 3, "inferred")
    assert result.latency_ms == total_ns / 1e6 and result.confidence == "low"
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 1 + 3  # one warm-up, then the timed calls
    assert json.loads(posts[0].body)["model"] == "all-minilm"


def test_infer_falls_back_to_the_round_trip(server: FakeOllama) -> None:
    embed(server)  # an answer without total_duration, given at once
    fast = infer(server.url, OllamaOptions(infer_runs=3))
    assert (fast.verdict, fast.basis) == ("gpu-likely", "wall")
    embed(server, delay_s=0.1)  # the handler takes 100 ms per embedding
    slow = infer(server.url, OllamaOptions(infer_runs=2))
    assert (slow.verdict, slow.basis) == ("cpu-likely", "wall")
    assert slow.latency_ms is not None and slow.latency_ms >= 100


def test_infer_without_the_model_says_why(server: FakeOllama) -> None:
    embed(server, status=404, body={"error": 'model "all-minilm" not found, try pulling it first'})
    result = infer(server.url, OllamaOptions())
    assert result.verdict == "unknown" and result.latency_ms is None
    assert result.reason == ('warm-up failed: /api/embed: HTTP 404 Not Found: model "all-minilm" not found, '
                             "try pulling it first")


def test_infer_never_carries_a_vram_size(server: FakeOllama) -> None:
    server.route("GET", "/api/ps", body={"models": []})
    embed(server, total_ns=5_000_000)
    report = query(OllamaEndpoint(server.url, FROM_CLI), OllamaOptions(infer=True, infer_runs=2))
    data = host_to_dict(HostReport(server.url, ollama=report))
    assert data["inference"]["verdict"] == "gpu-likely"
    assert not any("vram" in key or "bytes" in key for key in data["inference"])
    assert data["ollama"]["vram_bytes"] == 0 and data["ollama"]["gpu_accelerated"] is None


# ---------------------------------------------------------------------------------------------
# The command line, end to end


def test_local_report_with_ollama_beside_the_device(server: FakeOllama, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    server.route("GET", "/api/ps", body=OLLAMA / "ps" / "docs-mistral.json")
    server.route("GET", "/api/version", body=OLLAMA / "api-version-ollama-docs-0.5.1-example.json")
    env = nvml_env([{"name": "NVIDIA H100 80GB HBM3", "memory_total": 80 * GIB, "memory_used": 20 * GIB,
                     "memory_free": 60 * GIB}])
    env["OLLAMA_HOST"] = f"127.0.0.1:{server.port}"
    run = flockops("report", "-o", "json", env=env)
    assert run.returncode == 0, run.stderr
    host = run.json()["hosts"][0]
    assert host["status"] == "ok" and host["gpus"][0]["memory_used_bytes"] == 20 * GIB
    assert host["ollama"]["url"] == server.url and host["ollama"]["endpoint_from"] == "OLLAMA_HOST"
    assert host["ollama"]["version"] == "0.5.1" and host["ollama"]["models"][0]["placement"] == "gpu"
    assert host["vram_breakdown"]["other_bytes"] == 20 * GIB - 5137025024
    table = flockops("report", env=env)
    assert "Ollama 0.5.1 at " + server.url in table.stdout and "mistral:latest" in table.stdout
    assert "VRAM: device used 20.0 GiB | Ollama reserved 4.8 GiB | other 15.2 GiB" in table.stdout
    assert "ollama/ollama#10505" in table.stdout


def test_an_ollama_nobody_asked_about_is_said_only_with_v(flockops) -> None:  # type: ignore[no-untyped-def]
    env = {"OLLAMA_HOST": f"127.0.0.1:{free_port()}"}
    run = flockops("report", env=env)
    assert run.returncode == 0 and "Ollama" not in run.stdout  # a box without Ollama: no line about it
    verbose = flockops("report", "-v", env=env)
    assert f"Ollama: not running (nothing listens at http://127.0.0.1:{env['OLLAMA_HOST'].split(':')[1]})" \
        in verbose.stdout
    assert flockops("report", "-o", "json", env=env).json()["hosts"][0]["ollama"]["status"] == "not_running"
    quiet = flockops("report", "--no-ollama", "-o", "json", env=env)
    assert quiet.json()["hosts"][0]["ollama"] is None


def test_url_only_nodes(server: FakeOllama, flockops) -> None:  # type: ignore[no-untyped-def]
    server.route("GET", "/api/ps", body=OLLAMA / "ps" / "size-vram-partial.json")
    with FakeOllama() as broken:
        broken.route("GET", "/api/ps", status=500, body={"error": "boom"})
        run = flockops("report", "-o", "json", "--no-ollama", "--ollama", server.url, "--ollama",
                       f"127.0.0.1:{broken.port}", env={"OLLAMA_HOST": f"127.0.0.1:{free_port()}"})
    hosts = {h["host"]: h for h in run.json()["hosts"]}
    assert list(hosts)[1:] == [server.url, broken.url]
    good, bad = hosts[server.url], hosts[broken.url]
    assert good["gpus"] == [] and good["drivers"] == [] and good["status"] == "ok"
    assert good["ollama"]["models"][0]["spilled"] is True and good["warnings"][0]["kind"] == "ollama_spill"
    assert bad["status"] == "failed" and bad["errors"][0]["message"].endswith("HTTP 500 Internal Server Error: boom")
    assert run.returncode == 2  # a node failed, as for an SSH host
    table = flockops("report", "--no-ollama", "--ollama", server.url)
    assert "No device data: known only by its Ollama URL (no SSH)." in table.stdout
    # This machine, without GPUs, is one line beside the node asked about; the caveat is said once.
    local = table.stdout.split("\n\n")[0].splitlines()
    assert local == ["== localhost  [ok]", "No GPU detected (-v: what each driver said)."]
    assert table.stdout.count("ollama/ollama#10505") == 1


def test_infer_on_a_node_with_no_loaded_model(server: FakeOllama, flockops) -> None:  # type: ignore[no-untyped-def]
    server.route("GET", "/api/ps", body=OLLAMA / "ps" / "empty.json")
    embed(server, total_ns=240_000_000)
    run = flockops("report", "-o", "json", "--no-ollama", "--ollama", server.url, "--infer", "--infer-runs", "2",
                   "--infer-model", "nomic-embed-text")
    node = run.json()["hosts"][1]
    assert node["inference"]["verdict"] == "cpu-likely" and node["inference"]["model"] == "nomic-embed-text"
    assert node["inference"]["source"] == "inferred" and node["inference"]["runs"] == 2
    table = flockops("report", "--no-ollama", "--ollama", server.url, "--infer", "--infer-runs", "2")
    assert "Inference (a guess; source: inferred, confidence: low): cpu-likely, 240.0 ms median of 2" \
        in table.stdout


def test_inventory_ollama_url_beside_an_unreachable_ssh_host(server: FakeOllama, tmp_path, flockops,  # type: ignore[no-untyped-def]
                                                              nvml_env) -> None:
    import yaml

    server.route("GET", "/api/ps", body=OLLAMA / "ps" / "size-vram-zero.json")
    inventory = tmp_path / "inv.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {
        "here": {"ansible_connection": "local", "ollama_url": server.url},
        "down": {"ansible_host": "127.0.0.1", "ansible_port": free_port(), "ollama_url": server.url},
        "plain": {"ansible_connection": "local"},
    }}}))
    env = nvml_env([{"name": "NVIDIA H100 80GB HBM3", "memory_total": 80 * GIB, "memory_used": 2 * GIB,
                     "memory_free": 78 * GIB}])
    run = flockops("report", "-i", str(inventory), "-o", "json", "--timeout", "5", env={**env, "HOME": str(tmp_path)})
    hosts = {h["host"]: h for h in run.json()["hosts"]}
    assert hosts["here"]["status"] == "ok" and hosts["here"]["ollama"]["endpoint_from"] == "inventory"
    # The local GPU makes the CPU-placed embedding model a spill.
    assert hosts["here"]["ollama"]["models"][0]["spilled"] is True
    assert hosts["down"]["status"] == "partial" and hosts["down"]["ollama"]["status"] == "ok"
    assert hosts["plain"]["ollama"] is None
    assert run.returncode == 0


def test_the_reservation_note_is_said_once_for_a_fleet() -> None:
    model = OllamaModel("llama3.1:8b", 5 * GIB, 5 * GIB)
    hosts = [HostReport(f"gpu{i}", gpus=(gpu(),), drivers=NVML_USED, ollama=ok(model)) for i in range(3)]
    text = fleet_table(_fleet(*hosts))
    assert text.count("ollama/ollama#10505") == 1 and text.count("llama3.1:8b") == 3
    assert fleet_table(_fleet(hosts[0])).count("ollama/ollama#10505") == 1  # one host: under its own table
