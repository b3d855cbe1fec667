"""The engine and model of each command line operators run (flockops.agent.holders.commands).

The real lines come from tests/data/engines (provenance in its SOURCES.md): typed launch lines
and engine logs quoting the command they started; the others are written from each engine's own
documentation of its flags, and say so.
"""

from __future__ import annotations

import re
import shlex

import pytest
from support.paths import DATA

from flockops.agent.holders.commands import program, recognise
from flockops.agent.model import Engine

ENGINES = DATA / "engines"


def logged(name: str) -> list[str]:
    """The command an engine's log line quotes (``cmd="..."``), or a typed line whole."""
    text = (ENGINES / name).read_text().strip()
    match = re.search(r'cmd="([^"]*)"', text)
    return shlex.split(match.group(1) if match else text)


def test_vllm_launched_as_a_module_with_a_served_name() -> None:
    """vllm#7553: an environment prefix, ``--served-model-name`` beside a ``--model`` path, TP 4."""
    found = recognise(logged("cmdline-vllm-i7553-0.5.4-python-m-openai-api-server-tp4-cuda-visible-devices.txt"))
    assert found is not None
    assert (found.engine, found.model, found.port, found.memory_fraction) == (Engine.VLLM, "Yi-1.5-34B-Chat", 8001, 0.9)


@pytest.mark.parametrize(("name", "digest"), [
    # ollama#6160 (0.3): the pre-0.5 runner binary unpacked under /tmp.
    ("cmdline-ollama-i6160-0.3-log-starting-llama-server-tmp-runners-cuda_v11-ollama_llama_server.txt",
     "sha256:d36aafdc1d822f932f3fd3ddc18296628764c5e43f153e9c02b29f5c4525cf2a"),
    # ollama#9509 (2025): `ollama runner`.
    ("cmdline-ollama-i9509-2025-03-log-starting-llama-server-usr-bin-ollama-runner.txt",
     "sha256:8c625c9569c3c799f5f9595b5a141f91d224233055608189d66746347c14e613"),
])
def test_ollama_runners_name_a_blob(name: str, digest: str) -> None:
    found = recognise(logged(name))
    assert found is not None and found.engine == Engine.OLLAMA
    assert (found.blob_digest, found.models_dir, found.model) == (digest, "/root/.ollama/models", None)


# Written from each engine's documented flags (vLLM's CLI reference, SGLang's server arguments,
# llama.cpp's tools/server/README.md, TGI's launcher reference, LocalAI's and Ollama's docs).
DOCUMENTED = [
    ("/usr/bin/python3 /usr/local/bin/vllm serve meta-llama/Llama-3.1-8B-Instruct --gpu-memory-utilization 0.85",
     Engine.VLLM, "meta-llama/Llama-3.1-8B-Instruct", False),
    ("vllm serve --model /models/Qwen2.5-7B --served-model-name qwen", Engine.VLLM, "qwen", False),
    ("VLLM::EngineCore", Engine.VLLM, None, True),
    ("VLLM::Worker_TP1", Engine.VLLM, None, True),
    ("python3 -m sglang.launch_server --model-path meta-llama/Llama-3.1-8B-Instruct --port 30000",
     Engine.SGLANG, "meta-llama/Llama-3.1-8B-Instruct", False),
    ("sglang::scheduler_TP0", Engine.SGLANG, None, True),
    ("/usr/local/bin/llama-server -m ../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf -ngl 99",
     Engine.LLAMA_CPP, "../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", False),
    ("llama-server -hf ggml-org/gemma-3-1b-it-GGUF --alias gemma", Engine.LLAMA_CPP, "gemma", False),
    ("text-generation-launcher --model-id mistralai/Mistral-7B-Instruct-v0.2 --num-shard 2",
     Engine.TGI, "mistralai/Mistral-7B-Instruct-v0.2", False),
    ("/opt/conda/bin/python3.11 /opt/conda/bin/text-generation-server serve mistralai/Mistral-7B-Instruct-v0.2 "
     "--sharded --uds-path /tmp/text-generation-server", Engine.TGI, "mistralai/Mistral-7B-Instruct-v0.2", True),
    ("/usr/bin/ollama runner --ollama-engine --model /usr/share/ollama/.ollama/models/blobs/sha256-"
     + "a" * 64 + " --port 41337", Engine.OLLAMA, None, False),
    ("local-ai run phi-2 --address :9090", Engine.LOCALAI, "phi-2", False),
    ("/tmp/localai/backend_data/backend-assets/grpc/llama-cpp-avx2 --addr 127.0.0.1:35011", Engine.LOCALAI, None,
     True),
    ("/home/ops/.lmstudio/bin/lms server start", Engine.LMSTUDIO, None, True),
]


@pytest.mark.parametrize(("line", "engine", "model", "worker"), DOCUMENTED)
def test_documented_command_lines(line: str, engine: Engine, model: str | None, worker: bool) -> None:
    found = recognise(shlex.split(line))
    assert found is not None
    assert (found.engine, found.model, found.worker) == (engine, model, worker)


@pytest.mark.parametrize("line", ["python3 train.py --model resnet50", "bash", "/usr/bin/Xorg :0", "jupyter-lab",
                                  "python3 -c import torch"])
def test_anything_else_is_no_engine(line: str) -> None:
    """A holder that is no engine shows its plain process name."""
    assert recognise(shlex.split(line)) is None


def test_flags_that_keep_the_model_off_the_gpu() -> None:
    llama = recognise(shlex.split("llama-server -m x.gguf --n-gpu-layers 0"))
    vllm = recognise(shlex.split("vllm serve m --device cpu"))
    assert llama is not None and llama.model_on_cpu is True
    assert vllm is not None and vllm.model_on_cpu is True
    busy = recognise(shlex.split("llama-server -m x.gguf -ngl 99"))
    assert busy is not None and busy.model_on_cpu is None  # the flags say nothing of it: unknown, not False


def test_the_program_under_an_interpreter() -> None:
    assert program(["python3", "-u", "-X", "dev", "-m", "vllm.entrypoints.openai.api_server", "--port", "1"]) == (
        "vllm.entrypoints.openai.api_server", ["--port", "1"])
    assert program(["/opt/venv/bin/python3.11", "/opt/venv/bin/vllm", "serve", "m"]) == ("vllm", ["serve", "m"])
    assert program(["env", "A=1", "llama-server", "-m", "x"]) == ("llama-server", ["-m", "x"])
