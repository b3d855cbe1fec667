"""What reading the holders adds to a probe: 8 GPUs, 20 processes holding them.

The 20 holders are real processes under engines' command lines (tests/support/engines.py): two
vLLM API servers whose tensor-parallel workers hold four GPUs each, two SGLang servers, four
llama-servers, two LocalAI servers (each engine listening on a loopback socket, so their sockets
are read too) and ten processes that are no engine. The fake NVML lists them on 8 GPUs.

Measured two ways:

1. the whole one-shot probe as a target runs it (sh + python3 + the probe's zip on stdin + NVML),
   its CPU from getrusage, with the 20 holders listed and with none, interleaved, the median of
   each; the difference is what the holders cost the probe (NVML's process lists included);
2. the attribution alone, in a fresh Python (the controller's, which has pynvml) each time (its
   modules' import included, as a probe pays it) and warm, from time.process_time.

Run: .venv/bin/python benchmarks/holders_cost.py
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO

sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))
from support.engines import Standins  # noqa: E402
from support.nvml import build_fake_nvml, write_config  # noqa: E402

GIB = 1 << 30
ENGINES = REPO / "tests" / "data" / "engines"
RUNS = 61


def gpus(holders: list[list[int]]) -> list[dict[str, object]]:
    return [{"name": "NVIDIA H100 80GB HBM3", "uuid": f"GPU-0000000{i}-0000-0000-0000-000000000000",
             "pci_bus_id": f"00000000:{0x18 + i:02X}:00.0", "memory_total": 80 * GIB, "memory_used": 70 * GIB,
             "temperature": 62, "temp_slowdown": 89, "util_gpu": 45, "power_mw": 250_000,
             "process": [(pid, 3 * GIB) for pid in holders[i]]} for i in range(8)]


def start(engines: Standins) -> list[int]:
    """The 20 holders' pids."""
    metrics = {"/metrics": ENGINES / "constructed-metrics-vllm-v1-two-engines-kv-cache-usage-perc.txt"}
    pids = []
    for n in range(2):
        vllm = engines.start(["vllm", "serve", f"/models/model-{n}", "--api-key", "sk-bench-0123456789abcdefghij"],
                             metrics, child="VLLM::Worker_TP0")
        assert vllm.child is not None
        pids.append(vllm.child)
    for n in range(2):
        pids.append(engines.start(["python3", "-m", "sglang.launch_server", "--model-path", f"org/m{n}"], {}).pid)
    for n in range(4):
        pids.append(engines.start(["llama-server", "-m", f"/models/m{n}.gguf"], {}).pid)
    for n in range(2):
        pids.append(engines.start(["local-ai", "run", f"model-{n}"], {}).pid)
    for n in range(10):
        pids.append(engines.start(["python3", f"train-{n}.py"], {}).pid)
    return pids


def spread(pids: list[int]) -> list[list[int]]:
    """The vLLM workers on four GPUs each (tensor parallelism), the others one GPU each, round robin."""
    per_gpu: list[list[int]] = [[] for _ in range(8)]
    for g in range(8):
        per_gpu[g].append(pids[g // 4])
    for i, pid in enumerate(pids[2:]):
        per_gpu[i % 8].append(pid)
    return per_gpu


def probe_cpu(command: str, payload: bytes, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(["/bin/sh", "-c", command], input=payload, env=env, capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert b"@@flockops-json" in done.stdout[:40] or done.stdout, done.stderr
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


ATTRIBUTE_ONLY = """
import json, sys, time
sys.path.insert(0, {repo!r})
from flockops.agent.driver import Context
from flockops.agent.drivers.nvml import NvmlDriver
gpus = NvmlDriver().collect(Context.local())
started = time.process_time()
from flockops.agent.holders.attribution import attribute
cold = attribute(gpus, Context.local())
cold_s = time.process_time() - started
started = time.process_time()
for _ in range(20):
    attribute(gpus, Context.local())
warm_s = (time.process_time() - started) / 20
engines = sum(1 for g in cold for p in g.processes or () if p.engine)
print(json.dumps({{"cold_s": cold_s, "warm_s": warm_s, "holders": sum(len(g.processes or ()) for g in cold),
                  "engine_holders": engines}}))
"""


def main() -> None:
    from flockops.agent.drivers.nvidia_smi import planned_queries
    from flockops.remote.bundle import probe_zip
    from flockops.remote.command import remote_command

    work = Path(tempfile.mkdtemp(prefix="flockops-holders-bench-"))
    libdir = build_fake_nvml(work / "nvml").parent
    with Standins(work / "engines", python="/usr/bin/python3") as engines:
        pids = start(engines)
        assert len(set(pids)) == 20
        with_holders = write_config(work / "holders.conf", gpus(spread(pids)))
        without = write_config(work / "none.conf", gpus([[] for _ in range(8)]))
        command = remote_command("/usr/bin/python3", None, planned_queries())
        payload = probe_zip()
        base = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(libdir)}
        samples: dict[str, list[float]] = {"holders": [], "none": []}
        for i in range(RUNS + 3):
            for name, config in (("holders", with_holders), ("none", without)):
                cpu = probe_cpu(command, payload, {**base, "FAKE_NVML_CONFIG": str(config)})
                if i >= 3:
                    samples[name].append(cpu)
        alone = []
        code = ATTRIBUTE_ONLY.format(repo=str(REPO))
        # Byte code written and reused, as the probe's zip carries it: the first run writes it.
        env = {**base, "FAKE_NVML_CONFIG": str(with_holders)}
        for i in range(16):
            done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            if i:
                alone.append(json.loads(done.stdout))
    # The median, and the least: on a machine others share, the least is the run others disturbed least.
    for name, label in (("holders", "20 holders"), ("none", "no holder ")):
        print(f"probe, 8 GPUs, {label}: median {statistics.median(samples[name]) * 1000:.1f} ms, "
              f"least {min(samples[name]) * 1000:.1f} ms CPU ({RUNS} runs)")
    median = statistics.median(samples["holders"]) - statistics.median(samples["none"])
    least = min(samples["holders"]) - min(samples["none"])
    print(f"difference: median {median * 1000:+.1f} ms, least {least * 1000:+.1f} ms")
    for key, label in (("cold_s", "fresh process, its imports included"), ("warm_s", "warm")):
        values = [a[key] for a in alone]
        print(f"attribution alone, {label}: median {statistics.median(values) * 1000:.2f} ms, "
              f"least {min(values) * 1000:.2f} ms ({len(alone)} runs; {alone[0]['holders']} holder entries, "
              f"{alone[0]['engine_holders']} of engines)")
    print(f"cpus: {os.cpu_count()}; the probe under /usr/bin/python3, the attribution alone under {sys.executable}")


if __name__ == "__main__":
    main()
