"""Holders attributed through the whole report: real processes with engines' command lines, whose
PIDs the fake NVML lists, and recorded /proc trees for the container, pod and job cases.

Nothing of flockops is patched: the fake is the C NVML library, the processes are real (stopped by
their pid when the test ends), and the recorded trees are read through FLOCKOPS_PROC_ROOT and
FLOCKOPS_HOST_ROOT as a host's own /proc and /var would be.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.engines import Standins
from support.gpus import h100
from support.paths import DATA
from support.procfs import proc_root, write_process
from support.sshd import free_port
from support.units import GIB

ENGINES = DATA / "engines"
VLLM_METRICS = ENGINES / "metrics-vllm-datadog-fixture-opt-125m-both-gpu-and-kv-cache-usage-cache-config.txt"
SPEC = json.loads((ENGINES / "cgroup-elasticapm-spec-container-metadata-discovery-v1-v2-mountinfo.json").read_text())


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Standins]:
    with Standins(tmp_path / "engines") as running:
        yield running


def holders(flockops: Callable[..., Any], env: dict[str, str], *extra: str) -> list[dict[str, list[dict[str, Any]]]]:
    run = flockops("report", "-o", "json", "--no-ollama", *extra, env=env)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return [{"processes": g["processes"]} for g in run.json()["hosts"][0]["gpus"]]


def by_pid(gpu: dict[str, list[dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    return {p["pid"]: p for p in gpu["processes"]}


def test_engines_started_for_real_are_recognised_with_their_models(flockops, nvml_env, engines) -> None:  # type: ignore[no-untyped-def]
    vllm = engines.start(["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "/models/opt-125m/",
                          "--api-key", "sk-test-0123456789abcdefghij", "--gpu-memory-utilization", "0.85"],
                         {"/metrics": VLLM_METRICS}, child="VLLM::Worker_TP0")
    port = free_port()
    llama = engines.start(["llama-server", "-m", "../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "--port",
                           str(port)], {"/props": ENGINES / "props-llamacpp-readme-docs-example.json"})
    me = os.getpid()
    assert vllm.child is not None
    env = nvml_env([h100(process=[(vllm.child, 60 * GIB), (llama.pid, 5 * GIB), (me, GIB)]),
                    h100(uuid="GPU-2", process=[(vllm.child, 60 * GIB)])])
    first, second = (by_pid(g) for g in holders(flockops, env, "--no-engines"))
    worker = first[vllm.child]
    # The worker holds the memory; its engine, model and sockets are its parent's, the API server's.
    assert (worker["engine"], worker["engine_pid"], worker["model"]) == ("vllm", vllm.pid, "/models/opt-125m/")
    assert worker["engine_memory_fraction"] == 0.85
    assert [(s["address"], s["port"], s["pid"]) for s in worker["listening"]] == [("127.0.0.1", vllm.port, vllm.pid)]
    assert worker["command_line"].startswith("VLLM::Worker_TP0")
    assert second[vllm.child]["engine_pid"] == vllm.pid  # one holder, on two GPUs, read once, said twice
    server = first[llama.pid]
    assert (server["engine"], server["model"]) == ("llama.cpp", "../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")
    assert [s["port"] for s in server["listening"]] == [port]
    mine = first[me]
    assert mine["engine"] is None and mine["listening"] is None and mine["name"]  # not an engine: its plain name
    for holder in first.values():
        assert holder["user"] == "root" and holder["uid"] == os.getuid() == 0 or holder["user"]


def test_secrets_never_leave_the_host(flockops, nvml_env, engines) -> None:  # type: ignore[no-untyped-def]
    secret = "sk-test-0123456789abcdefghij"
    vllm = engines.start(["vllm", "serve", "facebook/opt-125m", "--api-key", secret], {"/metrics": VLLM_METRICS})
    env = nvml_env([h100(process=[(vllm.pid, GIB)])])
    run = flockops("report", "-o", "json", "--no-ollama", "--no-engines", env=env)
    assert secret not in run.stdout and secret not in run.stderr
    (holder,) = run.json()["hosts"][0]["gpus"][0]["processes"]
    assert holder["command_line"].endswith("serve facebook/opt-125m --api-key ********")
    assert (holder["engine"], holder["model"]) == ("vllm", "facebook/opt-125m")


def container_tree(root: Path) -> tuple[Path, Path, dict[int, str]]:
    """A recorded /proc with one holder per recorded cgroup layout, and the host files around them."""
    proc = proc_root(root / "proc")
    cases: dict[int, str] = {}
    lines = {case: "\n".join(SPEC[case]["files"]["/proc/self/cgroup"]) + "\n" for case in SPEC}
    for case, name in (("docker_v1_hybrid", "cgroup-ctrsploit-i280-docker-v1-hybrid-0-containerd-service.txt"),
                       ("slurm_v2", "cgroup-sonar-slurm-v2-fox-2025-03-13-slurmstepd-scope-job-step-task.txt"),
                       ("slurm_v1", "cgroup-sonar-slurm-v1-line-uid-job-step_interactive-task.txt")):
        lines[case] = (ENGINES / name).read_text()
    for pid, (case, text) in enumerate(sorted(lines.items()), start=4000):
        mounts = "\n".join(SPEC[case]["files"].get("/proc/self/mountinfo", [])) if case in SPEC else None
        write_process(proc, pid, ["python3", "-m", "sglang.launch_server", "--model-path", f"org/{case}"], text,
                      mountinfo=mounts or None)
        cases[pid] = case
    host = root / "host"
    # Constructed runtime files, in the layouts Docker and the kubelet write (see SOURCES.md):
    docker = host / "var/lib/docker/containers/2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d"
    docker.mkdir(parents=True)
    (docker / "config.v2.json").write_text(json.dumps({"Name": "/sglang-0", "Config": {"Labels": {}}}))
    (host / "var/log/pods/inference_sglang-7d9f_90d81341-92de-11e7-8cf2-507b9d4141fa").mkdir(parents=True)
    containers = host / "var/log/containers"
    containers.mkdir(parents=True)
    (containers / ("sglang-7d9f_inference_server-"
                   "2227daf62df6694645fee5df53c1f91271546a9560e8600a525690ae252b7f63.log")).symlink_to("/dev/null")
    return proc, host, cases


def test_containers_pods_and_jobs_from_recorded_cgroups(flockops, nvml_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc, host, cases = container_tree(tmp_path)
    env = nvml_env([h100(process=[(pid, GIB) for pid in cases])])
    env.update(FLOCKOPS_PROC_ROOT=str(proc), FLOCKOPS_HOST_ROOT=str(host))
    (gpu,) = holders(flockops, env, "--no-engines")
    got = {cases[p["pid"]]: p for p in gpu["processes"]}
    for case in SPEC:  # the ids Elastic's agents must find, found here too
        assert (got[case]["container_id"], got[case]["pod_uid"]) == (SPEC[case]["containerId"], SPEC[case]["podId"])
    hybrid = got["docker_v1_hybrid"]
    assert (hybrid["container_runtime"], hybrid["container_name"]) == ("docker", "sglang-0")
    pod = got["cgroup_v1_underscores"]
    assert (pod["container_runtime"], pod["pod_namespace"], pod["pod_name"], pod["container_name"]) == (
        "cri-o", "inference", "sglang-7d9f", "server")
    # What the host's files do not say is unknown, with why.
    openshift = got["cgroup_v1_openshift"]
    assert openshift["container_name"] is None and "config.v2.json: no such file" in openshift["field_errors"][
        "container_name"]
    assert openshift["pod_name"] is None and "var/log/pods" in openshift["field_errors"]["pod_name"]
    gardener = got["gardener"]
    assert gardener["container_name"] is None and "containerd" in gardener["field_errors"]["container_name"]
    assert (got["slurm_v2"]["slurm_job_id"], got["slurm_v1"]["slurm_job_id"]) == (1392969, 280678)
    assert got["cgroup_v1_ubuntu"]["container_id"] is None and got["cgroup_v1_ubuntu"]["slurm_job_id"] is None
    for holder in got.values():
        assert holder["engine"] == "sglang" and holder["model"].startswith("org/")
        assert holder["listening"] is None and "listening" in holder["field_errors"]  # no fds in a recorded tree


def test_an_ollama_runner_is_named_through_the_manifests(flockops, nvml_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = proc_root(tmp_path / "proc")
    blob = "c1864a5eb19305c40519da12cc543519e48a0697ecd30e15d5ac228644957d12"
    runner = write_process(proc, 5100, ["/usr/bin/ollama", "runner", "--model",
                                        f"/root/.ollama/models/blobs/sha256-{blob}", "--port", "33405"], ppid=5000)
    write_process(proc, 5000, ["/usr/bin/ollama", "serve"])
    # The runner's own view of its files (/proc/PID/root: Ollama in a container has its own).
    manifests = runner / "root/root/.ollama/models/manifests/registry.ollama.ai/library/gemma"
    manifests.mkdir(parents=True)
    (manifests / "2b").write_bytes((ENGINES / "manifest-ollama-0.1.48-gemma-2b-llm-zoomcamp-hw.json").read_bytes())
    stray = write_process(proc, 5200, ["/usr/bin/ollama", "runner", "--model", "/srv/models/blobs/sha256-" + "e" * 64])
    env = nvml_env([h100(process=[(5100, 2 * GIB), (stray.name and 5200, GIB)])])
    env["FLOCKOPS_PROC_ROOT"] = str(proc)
    (gpu,) = holders(flockops, env, "--no-engines")
    named, unnamed = sorted(gpu["processes"], key=lambda p: p["pid"])
    assert (named["engine"], named["model"], named["engine_pid"]) == ("ollama", "gemma:2b", 5100)
    assert named["listening"] is None and "listening" not in named["field_errors"]  # Ollama is asked at /api/ps
    assert unnamed["model"] is None and "/srv/models/manifests" in unnamed["field_errors"]["model"]


def test_an_unreadable_process_is_unknown_with_why(flockops, nvml_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A process whose /proc files cannot be read (another user's without root, or one ending) is null
    with the reason; who owns its /proc directory, which anyone may see, is still its user."""
    import pwd

    proc = proc_root(tmp_path / "proc")
    (proc / "6000").mkdir()  # listed by the driver, nothing readable in it
    env = nvml_env([h100(process=[(6000, GIB)])])
    env["FLOCKOPS_PROC_ROOT"] = str(proc)
    ((holder,),) = [g["processes"] for g in holders(flockops, env)]
    assert holder["command_line"] is None and holder["engine"] is None and holder["container_id"] is None
    assert "no such file" in holder["field_errors"]["command_line"]
    assert "no such file" in holder["field_errors"]["container_id"]
    assert (holder["uid"], holder["user"]) == (os.getuid(), pwd.getpwuid(os.getuid()).pw_name)
    assert holder["memory_used_bytes"] == GIB
