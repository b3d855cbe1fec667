"""Holders for people and for Prometheus: the table's top holder, report -p, the process series."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from support.units import GIB

from flockops.agent.engine_model import EngineReport
from flockops.agent.model import Engine, EngineStatus, FleetReport, GpuProcess, GpuSample, HostReport
from flockops.render.prometheus import fleet_metrics
from flockops.render.report import fleet_table

VLLM = GpuProcess(pid=4242, name="python3", memory_used_bytes=60 * GIB, user="ml", engine=Engine.VLLM,
                  engine_pid=4240, model="/models/Qwen2.5-7B-Instruct/", pod_uid="90d81341-92de-11e7-8cf2-507b9d4141fa",
                  pod_namespace="inference", pod_name="qwen-0", container_id="a" * 64, container_runtime="containerd",
                  command_line="VLLM::Worker_TP0")
JOB = GpuProcess(pid=777, name="python3", memory_used_bytes=2 * GIB, user="alice", slurm_job_id=1392969,
                 command_line="python3 train.py")
UNNAMED = GpuProcess(pid=778, name="python3", memory_used_bytes=GIB, user="alice", slurm_job_id=1392969)
DOCKER = GpuProcess(pid=900, name="llama-server", memory_used_bytes=None, engine=Engine.LLAMA_CPP, model="x.gguf",
                    container_id="2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d",
                    container_runtime="docker", container_name="llama")


def report() -> FleetReport:
    gpus = (GpuSample("nvidia", 0, "nvml", name="H100", uuid="GPU-0", memory_total_bytes=80 * GIB,
                      processes=(JOB, VLLM)),
            GpuSample("nvidia", 1, "nvml", name="H100", uuid="GPU-1", processes=(JOB, UNNAMED, DOCKER)),
            GpuSample("nvidia", 2, "nvml", name="H100", uuid="GPU-2", processes=()),
            GpuSample("nvidia", 3, "nvml", name="H100", uuid="GPU-3", processes=None,
                      field_errors={"processes": "not supported"}))
    engine = EngineReport(Engine.VLLM, "http://127.0.0.1:8000", EngineStatus.OK, via="ssh", pid=4240,
                          models=("Qwen2.5-7B-Instruct",), kv_cache_usage_ratio=0.93, requests_running=21,
                          requests_waiting=4, memory_fraction=0.9)
    return FleetReport((HostReport("gpu1", gpus=gpus, engines=(engine,)),), "2026-12-08T00:00:00+00:00")


def test_the_table_shows_each_gpus_largest_holder() -> None:
    lines = fleet_table(report()).splitlines()
    row = {line.split()[0]: line for line in lines if line[:1].isdigit()}
    assert "vllm Qwen2.5-7B-Instruct 60.0 GiB (+1)" in row["0"]
    assert "python3 2.0 GiB (+2)" in row["1"]  # the largest known: the unknown one is not taken for larger
    assert "none" in row["2"] and "N/A" in row["3"]
    assert any(line.startswith("Engine vllm at http://127.0.0.1:8000 (through SSH): Qwen2.5-7B-Instruct | KV cache 93%")
               for line in lines)
    assert "Processes:" not in lines


def test_processes_lists_every_holder_under_its_gpu() -> None:
    text = fleet_table(report(), processes=True, verbose=True)
    listed = text[text.index("Processes:"):].splitlines()
    rows = [line.split(None, 3) for line in listed[3:] if line[:1].isdigit()]
    assert [(r[0], r[1]) for r in rows] == [("0", "4242"), ("0", "777"), ("1", "777"), ("1", "778"), ("1", "900"),
                                            ("3", "N/A")]
    by_pid = {line.split()[1]: line for line in listed[3:] if line[:1].isdigit()}
    assert "vllm" in by_pid["4242"] and "pod inference/qwen-0" in by_pid["4242"] and "Qwen2.5-7B-Instruct " in \
        by_pid["4242"]
    assert "slurm job 1392969" in by_pid["777"] and "python3 train.py" in by_pid["777"]
    assert "docker llama" in by_pid["900"] and by_pid["900"].rstrip().endswith("N/A")  # unknown VRAM, never 0
    assert "processes unknown: not supported" in by_pid["N/A"]


def test_the_process_series_sums_alike_holders_and_leaves_pids_out() -> None:
    families = {f.name: f for f in text_string_to_metric_families(fleet_metrics(report(), now=0).text())}
    samples = [(s.labels, s.value) for s in families["flockops_process_memory_used_bytes"].samples]
    assert ({"host": "gpu1", "uuid": "GPU-1", "engine": "python3", "model": "", "container": "slurm job 1392969"},
            3 * GIB) in samples  # two holders, one series
    assert ({"host": "gpu1", "uuid": "GPU-0", "engine": "vllm", "model": "/models/Qwen2.5-7B-Instruct/",
             "container": "pod inference/qwen-0"}, 60 * GIB) in samples
    assert not any(labels["engine"] == "llama.cpp" for labels, _ in samples)  # unknown VRAM: left out
    assert all("pid" not in labels for labels, _ in samples)
    (kv,) = families["flockops_engine_kv_cache_usage_ratio"].samples
    assert kv.value == 0.93 and kv.labels["url"] == "http://127.0.0.1:8000"
    with_pids = {f.name: f for f in text_string_to_metric_families(fleet_metrics(report(), now=0, pids=True).text())}
    assert {s.labels["pid"] for s in with_pids["flockops_process_memory_used_bytes"].samples} == {"4242", "777", "778"}
