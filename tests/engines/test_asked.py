"""Engines asked as a report asks them: this machine's holders' sockets, and the inventory's engine_urls."""

from __future__ import annotations

from pathlib import Path

import yaml
from support.engines import Standins
from support.gpus import h100
from support.ollama_server import FakeOllama, free_port
from support.paths import DATA
from support.units import GIB

ENGINES = DATA / "engines"
VLLM = {"/metrics": ENGINES / "constructed-metrics-vllm-v1-two-engines-kv-cache-usage-perc.txt",
        "/version": ENGINES / "version-vllm-datadog-fixture-0.4.3-raw.json"}


def test_this_machines_engines_are_asked_where_they_listen(flockops, nvml_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with Standins(tmp_path / "engines") as engines:
        vllm = engines.start(["vllm", "serve", "/models/Qwen2.5-7B-Instruct"], VLLM)
        env = nvml_env([h100(process=[(vllm.pid, 60 * GIB)])])
        run = flockops("report", "-o", "json", "--no-ollama", env=env)
        peers = vllm.peer_names()
    assert run.returncode == 0, run.stderr
    (engine,) = run.json()["hosts"][0]["engines"]
    assert (engine["engine"], engine["via"], engine["pid"], engine["url"]) == (
        "vllm", "direct", vllm.pid, f"http://127.0.0.1:{vllm.port}")
    assert (engine["kv_cache_usage_ratio"], engine["requests_running"], engine["memory_fraction"]) == (0.96, 21, 0.85)
    assert len(peers) == 3  # /metrics, /version, /v1/models: asked once each


def test_inventory_engine_urls_are_asked_from_here_and_their_failure_is_the_hosts(flockops, nvml_env,  # type: ignore[no-untyped-def]
                                                                                 tmp_path: Path) -> None:
    with FakeOllama() as server:
        info = ENGINES / "constructed-info-tgi-openapi-info-schema-examples.json"
        server.route("GET", "/info", body=info.read_bytes())
        inventory = tmp_path / "hosts.yml"
        inventory.write_text(yaml.safe_dump({"all": {"hosts": {"box": {
            "ansible_connection": "local",
            "engine_urls": [f"tgi=http://127.0.0.1:{server.port}", f"vllm=http://127.0.0.1:{free_port()}"]}}}}))
        run = flockops("report", "-i", str(inventory), "-o", "json", env=nvml_env([h100()]))
    (box,) = run.json()["hosts"]
    tgi, vllm = box["engines"]
    assert (tgi["engine"], tgi["endpoint_from"], tgi["status"], tgi["models"]) == (
        "tgi", "inventory", "partial", ["bigscience/blomm-560m"])
    assert (vllm["status"], vllm["endpoint_from"]) == ("unreachable", "inventory")
    # A listed engine that does not answer is the host's error; the rest of the host stands.
    assert box["status"] == "partial" and [e["kind"] for e in box["errors"]] == ["engine_unreachable"]
    assert box["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
