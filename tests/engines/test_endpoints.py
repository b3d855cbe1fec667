"""Where engines are asked: the sockets a host reported, and the engine_urls inventory variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from flockops.agent.model import Engine, GpuProcess, GpuSample, HostReport, ListenSocket
from flockops.engines.endpoints import discovered, from_inventory
from flockops.errors import InventoryError
from flockops.remote.settings import Target


def test_only_sockets_a_holders_engine_listens_on_are_asked() -> None:
    vllm = GpuProcess(pid=11, engine=Engine.VLLM, engine_pid=10,
                      listening=(ListenSocket("::", 8000, 10), ListenSocket("0.0.0.0", 8000, 10)))
    bound = GpuProcess(pid=21, engine=Engine.LLAMA_CPP, engine_pid=21, listening=(ListenSocket("10.0.0.5", 8080, 21),))
    plain = GpuProcess(pid=31, listening=(ListenSocket("127.0.0.1", 9999, 31),))  # no engine: never asked
    ollama = GpuProcess(pid=41, engine=Engine.OLLAMA, engine_pid=40, listening=(ListenSocket("127.0.0.1", 33405, 41),))
    host = HostReport("gpu1", gpus=(GpuSample("nvidia", 0, "nvml", processes=(vllm, bound, plain, ollama)),
                                    GpuSample("nvidia", 1, "nvml", processes=(vllm,))))
    found = discovered(host, "ssh")
    # One endpoint per engine and port: every-address sockets at the target's loopback, IPv4 first.
    assert [(e.engine, e.address, e.port, e.pid, e.via) for e in found] == [
        (Engine.VLLM, "127.0.0.1", 8000, 10, "ssh"), (Engine.LLAMA_CPP, "10.0.0.5", 8080, 21, "ssh")]


def target(value: object) -> Target:
    return Target("gpu1", "10.0.0.5", vars={"engine_urls": value})


@pytest.mark.parametrize("value", [["vllm=http://10.0.0.5:8000", "llama.cpp=http://10.0.0.5:8080/"],
                                   "vllm=http://10.0.0.5:8000, llamacpp=http://10.0.0.5:8080",
                                   {"vllm": "http://10.0.0.5:8000", "llama-server": ["http://10.0.0.5:8080"]}])
def test_the_inventory_variables_forms(value: object) -> None:
    found = from_inventory(target(value))
    assert [(e.engine, e.url, e.endpoint_from, e.via) for e in found] == [
        (Engine.VLLM, "http://10.0.0.5:8000", "inventory", "direct"),
        (Engine.LLAMA_CPP, "http://10.0.0.5:8080", "inventory", "direct")]


@pytest.mark.parametrize(("value", "said"), [
    (["http://10.0.0.5:8000"], "names no engine"),
    (["triton=http://10.0.0.5:8000"], "names no engine"),
    (["vllm=https://10.0.0.5"], "only http://"),
    (["vllm=http://u:secret@10.0.0.5:8000"], "user name or password"),
    (["vllm={{ vllm_url }}"], "Jinja"),
])
def test_a_value_that_cannot_be_one_is_an_inventory_error(value: object, said: str) -> None:
    with pytest.raises(InventoryError, match=said) as caught:
        from_inventory(target(value))
    assert "secret" not in str(caught.value)


def test_a_bad_engine_url_fails_before_any_host_is_asked(flockops, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    gpu1:\n      ansible_host: 192.0.2.1\n"
                         "      engine_urls: [\"vllm=ftp://192.0.2.1:8000\"]\n")
    run = flockops("report", "-i", str(inventory), "--timeout", "1")
    assert run.returncode != 0 and "engine_urls" in run.stderr and "Traceback" not in run.stderr
    assert run.stdout == ""
