"""The container, pod and Slurm job of every recorded cgroup layout (flockops.agent.holders.cgroups).

Each layout is a capture in tests/data/engines (see SOURCES.md there); Elastic APM's cross-agent
spec gives, beside each case's files, the container and pod ids its agents must find.
"""

from __future__ import annotations

import json

import pytest
from support.paths import DATA

from flockops.agent.holders.cgroups import from_mountinfo, placement

ENGINES = DATA / "engines"
SPEC = json.loads((ENGINES / "cgroup-elasticapm-spec-container-metadata-discovery-v1-v2-mountinfo.json").read_text())


@pytest.mark.parametrize("case", sorted(SPEC))
def test_elastic_apm_spec_cases(case: str) -> None:
    files = SPEC[case]["files"]
    found = placement("\n".join(files["/proc/self/cgroup"]))
    if found.root_only:
        found = from_mountinfo("\n".join(files["/proc/self/mountinfo"]))
    assert (found.container_id, found.pod_uid) == (SPEC[case]["containerId"], SPEC[case]["podId"])


def test_runtimes_named_by_the_paths() -> None:
    runtimes = {case: placement("\n".join(SPEC[case]["files"]["/proc/self/cgroup"])).container_runtime
                for case in SPEC}
    assert runtimes["cgroup_v1_underscores"] == "cri-o"
    assert runtimes["cgroup_v1_openshift"] == "docker"
    assert runtimes["gardener"] == "containerd"
    assert from_mountinfo("\n".join(SPEC["cgroup_v2"]["files"]["/proc/self/mountinfo"])).container_runtime == "docker"


def test_docker_v1_on_a_hybrid_host_is_the_container_not_containerd() -> None:
    """ctrsploit#280: the unified line is containerd.service; every v1 controller names the container."""
    found = placement((ENGINES / "cgroup-ctrsploit-i280-docker-v1-hybrid-0-containerd-service.txt").read_text())
    assert found.container_id == "2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d"
    assert found.container_runtime == "docker" and found.pod_uid is None and found.slurm_job_id is None


@pytest.mark.parametrize(("name", "job"), [
    ("cgroup-sonar-slurm-v2-fox-2025-03-13-slurmstepd-scope-job-step-task.txt", 1392969),
    ("cgroup-sonar-slurm-v1-line-uid-job-step_interactive-task.txt", 280678),
])
def test_slurm_jobs(name: str, job: int) -> None:
    found = placement((ENGINES / name).read_text())
    assert found.slurm_job_id == job and found.container_id is None


def test_only_the_freezer_controller_holds_the_job() -> None:
    """Some Slurm v1 hosts put the job in the freezer hierarchy only: every line is read."""
    # Constructed from the v1 line above, moved to the freezer controller beside an unrelated v1 line.
    text = "11:memory:/user.slice\n4:freezer:/slurm/uid_2101171/job_280678/step_interactive/task_0\n0::/user.slice\n"
    assert placement(text).slurm_job_id == 280678


def test_kubernetes_cgroupfs_driver_names_pod_and_container() -> None:
    # Constructed in the cgroupfs driver's documented form, /kubepods/<qos>/pod<uid>/<id>.
    text = ("12:memory:/kubepods/burstable/pod90d81341-92de-11e7-8cf2-507b9d4141fa/"
            "2227daf62df6694645fee5df53c1f91271546a9560e8600a525690ae252b7f63\n")
    found = placement(text)
    assert found.pod_uid == "90d81341-92de-11e7-8cf2-507b9d4141fa"
    assert found.container_id == "2227daf62df6694645fee5df53c1f91271546a9560e8600a525690ae252b7f63"
    assert found.container_runtime is None  # the path does not name it: unknown, not guessed


def test_podman_and_its_monitor() -> None:
    cid = "b" * 64
    assert placement(f"0::/machine.slice/libpod-{cid}.scope/container\n").container_runtime == "podman"
    assert placement(f"0::/machine.slice/libpod-conmon-{cid}.scope\n").container_id is None  # conmon, not the container
