"""The inference engine and model a command line names, from the engine's own flags.

Each engine as it is launched (the engines' own docs and the command lines in their trackers):

- vLLM: ``vllm serve MODEL`` (a console script: ``python3 /usr/bin/vllm serve ...``), ``python -m
  vllm.entrypoints.openai.api_server --model PATH``; the model is ``--served-model-name`` when
  given (what its API and /metrics call it), else ``--model`` or serve's positional. Its engine
  core and tensor-parallel workers rename themselves ``VLLM::EngineCore``, ``VLLM::Worker_TP0``:
  they hold the GPU memory, not the PID that serves HTTP (they are attributed through their parent).
- SGLang: ``python -m sglang.launch_server --model-path PATH``; its scheduler renames itself
  ``sglang::scheduler`` (``sglang::scheduler_TP0`` with tensor parallelism).
- llama.cpp: ``llama-server -m PATH`` (``--model``, ``-hf``/``--hf-repo``, ``--alias``); ``-ngl 0``
  keeps every layer on the CPU.
- TGI: ``text-generation-launcher --model-id ID``, which starts ``text-generation-server serve ID``
  shards (the holders) and ``text-generation-router`` (the HTTP server).
- Ollama: ``ollama runner --model .../blobs/sha256-...`` (0.5 and later, ``--ollama-engine`` for its
  own engine), ``.../runners/cuda_v11/ollama_llama_server --model .../blobs/sha256-...`` before:
  both name a blob, mapped to the model's name by :mod:`.ollama_blobs`.
- LocalAI: ``local-ai run [MODEL...]``, whose backends (``.../backend-assets/grpc/llama-cpp-avx2``,
  ``.../backends/cuda12-llama-cpp/...``) hold the memory.
- LM Studio: any process of its installation (``~/.lmstudio/``, ``/opt/LM Studio/``, ``lm-studio``).

No I/O: the words in, what they say out.
"""

from __future__ import annotations

import collections
import os
import re
from collections.abc import Sequence

from ..model import Engine

TYPE_CHECKING = False

# Default HTTP ports, where the flags name none (each engine's own default).
DEFAULT_PORTS = {Engine.VLLM: 8000, Engine.SGLANG: 30000, Engine.LLAMA_CPP: 8080, Engine.TGI: 3000,
                 Engine.LOCALAI: 8080, Engine.LMSTUDIO: 1234, Engine.OLLAMA: 11434}
_INTERPRETERS = ("python", "pypy")
# Python's own options that take a value (python -X dev -W ignore -m vllm...).
_PYTHON_VALUED = frozenset({"-X", "-W", "-Q", "--check-hash-based-pycs"})


# A named tuple, not a dataclass nor a typing.NamedTuple: every probe with a holder creates the class,
# and importing typing or building a slotted dataclass costs it more than the rest of its reading.
if TYPE_CHECKING:
    from typing import NamedTuple

    class Command(NamedTuple):
        engine: Engine
        model: str | None = None
        worker: bool = False
        port: int | None = None
        memory_fraction: float | None = None
        model_on_cpu: bool | None = None
        blob_digest: str | None = None
        models_dir: str | None = None
else:
    Command = collections.namedtuple("Command", "engine model worker port memory_fraction model_on_cpu blob_digest "
                                     "models_dir", defaults=(None, False, None, None, None, None, None))
Command.__doc__ = """What a command line says about an engine. ``worker``: one of its processes that names no model
itself (vLLM's engine core, SGLang's scheduler, a LocalAI backend): the parent says more. ``blob_digest``
and ``models_dir``: an Ollama runner's model file ("sha256:...") and the models directory it is in."""


def option(argv: Sequence[str], *names: str) -> str | None:
    """The value of the last of ``names`` given (``--port 8000`` or ``--port=8000``), as argparse reads it."""
    found = None
    for i, word in enumerate(argv):
        if word in names and i + 1 < len(argv):
            found = argv[i + 1]
        elif "=" in word and word.split("=", 1)[0] in names:
            found = word.split("=", 1)[1]
    return found


def _number(text: str | None, kind: type[int] | type[float]) -> float | None:
    try:
        return None if text is None else kind(text)
    except ValueError:
        return None


def _port(argv: Sequence[str]) -> int | None:
    value = _number(option(argv, "--port"), int)
    return int(value) if value is not None and 0 < value < 65536 else None


def program(argv: Sequence[str]) -> tuple[str, list[str]]:
    """(what runs, its arguments): an interpreter's script or ``-m`` module, else the executable's name.

    ``CUDA_VISIBLE_DEVICES=4 python -m vllm.entrypoints.openai.api_server --model X`` -> the module
    ``vllm.entrypoints.openai.api_server`` and ``["--model", "X"]`` (a typed line's environment
    prefix and ``env`` are skipped: /proc never shows them, a launch script's log may)."""
    words = list(argv)
    while words and (words[0].partition("=")[0].isidentifier() and "=" in words[0]
                     or os.path.basename(words[0]) == "env"):
        words.pop(0)
    if not words:
        return "", []
    head = os.path.basename(words[0])
    if not _interpreter(head):
        return head, words[1:]
    i = 1
    while i < len(words):
        word = words[i]
        if word == "-m" and i + 1 < len(words):
            return words[i + 1], words[i + 2:]
        if word.startswith("-m") and len(word) > 2:
            return word[2:], words[i + 1:]
        if word == "-c":
            return "-c", words[i + 1:]
        if word in _PYTHON_VALUED:
            i += 2
            continue
        if word.startswith("-"):
            i += 1
            continue
        return os.path.basename(word), words[i + 1:]
    return head, []


def _interpreter(name: str) -> bool:
    """``python3``, ``python3.11``, ``pypy3``: string tests, not a pattern (every holder is asked)."""
    for word in _INTERPRETERS:
        if name.startswith(word):
            rest = name[len(word):]
            return rest == "" or rest.replace(".", "").isdigit()
    return False


def _after(args: Sequence[str], subcommand: str) -> str | None:
    """The word right after ``subcommand`` when it is no option (``vllm serve MODEL``)."""
    if subcommand in args:
        i = list(args).index(subcommand)
        if i + 1 < len(args) and not args[i + 1].startswith("-"):
            return args[i + 1]
    return None


def _served(args: Sequence[str], *model_options: str) -> str | None:
    return option(args, "--served-model-name") or option(args, *model_options)


def _vllm(what: str, args: list[str]) -> Command | None:
    if what == "vllm" and "serve" in args:
        model = option(args, "--served-model-name") or _after(args, "serve") or option(args, "--model")
    elif what.startswith("vllm.entrypoints"):
        model = _served(args, "--model")
    else:
        return None
    fraction = _number(option(args, "--gpu-memory-utilization"), float)
    on_cpu = True if option(args, "--device") == "cpu" else None
    return Command(Engine.VLLM, model, port=_port(args), memory_fraction=fraction, model_on_cpu=on_cpu)


def _sglang(what: str, args: list[str]) -> Command | None:
    if not (what.startswith("sglang.launch_server") or (what == "sglang" and "serve" in args)):
        return None
    model = _served(args, "--model-path", "--model")
    fraction = _number(option(args, "--mem-fraction-static"), float)
    on_cpu = True if option(args, "--device") == "cpu" else None
    return Command(Engine.SGLANG, model, port=_port(args), memory_fraction=fraction, model_on_cpu=on_cpu)


def _llama_cpp(what: str, args: list[str]) -> Command | None:
    if what not in ("llama-server", "llama-server.exe"):
        return None
    model = option(args, "-a", "--alias") or option(args, "-m", "--model") or option(args, "-hf", "-hfr",
                                                                                      "--hf-repo")
    layers = option(args, "-ngl", "--gpu-layers", "--n-gpu-layers")
    on_cpu = True if layers == "0" or option(args, "-dev", "--device") == "none" else None
    return Command(Engine.LLAMA_CPP, model, port=_port(args), model_on_cpu=on_cpu)


def _tgi(what: str, args: list[str]) -> Command | None:
    if what in ("text-generation-launcher", "text-generation-router"):
        return Command(Engine.TGI, option(args, "--model-id"), port=_port(args))
    if what == "text-generation-server":
        # A shard: `text-generation-server serve MODEL_ID --uds-path ...`; the launcher above it serves.
        return Command(Engine.TGI, _after(args, "serve"), worker=True)
    return None


def _ollama(what: str, args: list[str]) -> Command | None:
    if what == "ollama_llama_server" or (what == "ollama" and "runner" in args):
        path = option(args, "--model") or ""
        match = re.search(r"^(?P<dir>.*)/blobs/sha256[-:](?P<hex>[0-9a-f]{64})$", path)
        if match is None:
            return Command(Engine.OLLAMA, path or None, port=_port(args))
        return Command(Engine.OLLAMA, None, port=_port(args), blob_digest=f"sha256:{match.group('hex')}",
                       models_dir=match.group("dir"))
    if what == "ollama" and "serve" in args:
        return Command(Engine.OLLAMA, worker=True)
    return None


def _localai(what: str, args: list[str], argv: Sequence[str]) -> Command | None:
    if what in ("local-ai", "localai"):
        models = []  # `local-ai run MODEL...`: the words after run, before its first option
        for word in args[args.index("run") + 1:] if "run" in args else ():
            if word.startswith("-"):
                break
            models.append(word)
        return Command(Engine.LOCALAI, models[0] if len(models) == 1 else None, port=_address_port(args))
    if any("/backend-assets/grpc/" in w or "/localai/backends/" in w.lower() for w in argv[:2]):
        return Command(Engine.LOCALAI, worker=True)
    return None


def _address_port(args: Sequence[str]) -> int | None:
    """LocalAI's ``--address :8080`` (or ``ADDRESS``) names its port."""
    address = option(args, "--address") or ""
    port = address.rpartition(":")[2]
    return int(port) if port.isdigit() and 0 < int(port) < 65536 else None


def _lmstudio(argv: Sequence[str], exe: str | None) -> Command | None:
    places = [p.lower().replace(" ", "").replace("-", "").replace("_", "") for p in (*argv[:1], exe or "")]
    if any("lmstudio" in p for p in places):
        return Command(Engine.LMSTUDIO, worker=True)
    return None


def _renamed(argv: Sequence[str], comm: str | None) -> Command | None:
    """A process that renamed itself: vLLM's ``VLLM::EngineCore`` and workers, SGLang's ``sglang::scheduler``."""
    title = argv[0] if argv else ""
    for text in (title, comm or ""):
        if text.upper().startswith("VLLM::") or text.startswith("VllmWorker"):
            return Command(Engine.VLLM, worker=True)
        if text.startswith("sglang::"):
            return Command(Engine.SGLANG, worker=True)
    return None


def recognise(argv: Sequence[str], comm: str | None = None, exe: str | None = None) -> Command | None:
    """The engine ``argv`` runs, or None for a process that is no engine we know (then a holder shows
    its plain process name)."""
    renamed = _renamed(argv, comm)
    if renamed is not None:
        return renamed
    what, args = program(argv)
    for reader in (_vllm, _sglang, _llama_cpp, _tgi, _ollama):
        found = reader(what, args)
        if found is not None:
            return found
    return _localai(what, args, argv) or _lmstudio(argv, exe)
