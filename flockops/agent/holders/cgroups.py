"""The container, Kubernetes pod and Slurm job a process's cgroup paths name.

Every line of ``/proc/PID/cgroup`` is read, v1 and v2 alike (``ID:controllers:path``), because:

- Docker on cgroup v1: ``/docker/<64 hex>`` on each controller; with the systemd driver
  ``/system.slice/docker-<id>.scope`` (sometimes under ``init.scope``);
- on hybrid hosts the unified ``0::`` line can be ``/system.slice/containerd.service``, the runtime's
  own cgroup and not the container's (ctrsploit#280): a v1 line names the container then;
- Kubernetes: ``/kubepods/<qos>/pod<uid>/<id>`` (cgroupfs driver), or
  ``kubepods-<qos>-pod<uid_with_underscores>.slice`` then ``cri-containerd-<id>.scope``,
  ``crio-<id>.scope`` or ``docker-<id>.scope`` (systemd driver);
- Podman: ``machine.slice/libpod-<id>.scope`` (its ``libpod-conmon-<id>.scope`` is the monitor);
- Slurm: ``/system.slice/slurmstepd.scope/job_N/step_M/...`` (v2), ``/slurm/uid_U/job_N/...`` (v1),
  and on some v1 hosts only the ``freezer`` controller holds the job;
- inside a cgroup-v2 container only ``0::/`` shows: the id is then in ``/proc/PID/mountinfo``
  (``/var/lib/docker/containers/<id>/hostname``), as Elastic's APM agents read it.

No I/O: the texts in, what they say out.
"""

from __future__ import annotations

import collections
import re

_ID = r"[0-9a-f]{64}"
# (pattern over one cgroup path, the runtime it names), most specific first.
_CONTAINERS: tuple[tuple[str, str | None], ...] = (
    (rf"cri-containerd-(?P<id>{_ID})\.scope", "containerd"),
    (rf"crio-(?P<id>{_ID})\.scope", "cri-o"),
    (rf"libpod-(?!conmon-)(?P<id>{_ID})\.scope", "podman"),
    (rf"docker-(?P<id>{_ID})\.scope", "docker"),
    (rf"/docker/(?P<id>{_ID})(?:/|$)", "docker"),
    (rf"/libpod_parent/libpod-(?P<id>{_ID})", "podman"),
    (rf"/kubepods[^:]*/pod[0-9a-f-]{{36}}/(?P<id>{_ID})(?:/|$)", None),  # cgroupfs: the runtime is unnamed
    (r"/ecs/[0-9a-f]{32}/(?P<id>[0-9a-f]{32}-\d+)$", None),  # AWS ECS
)
_CONTAINER_WORDS = ("docker", "containerd", "crio", "libpod", "kubepods", "/ecs/")
_POD = (r"pod(?P<uid>[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice|/|$)")
_SLURM = r"/(?:slurm|slurmstepd\.scope)/(?:uid_\d+/)?job_(?P<job>\d+)(?:/|$)"
# Where a cgroup-v2 container's own files are mounted from: its id is in the path.
_MOUNTED = (rf"/var/lib/docker/containers/(?P<id>{_ID})/", rf"/containers/(?:storage/[^/ ]+/)?(?P<id>{_ID})/userdata/")
_MOUNTED_POD = r"/var/lib/kubelet/pods/(?P<uid>[0-9a-f-]{36})/"


# A named tuple: see Command in .commands for why not a dataclass or typing.NamedTuple.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple

    class Placement(NamedTuple):
        container_id: str | None = None
        container_runtime: str | None = None
        pod_uid: str | None = None
        slurm_job_id: int | None = None
        root_only: bool = False
else:
    Placement = collections.namedtuple("Placement", "container_id container_runtime pod_uid slurm_job_id root_only",
                                       defaults=(None, None, None, None, False))
Placement.__doc__ = """What the cgroup paths say; None where they say nothing. ``root_only``: only "0::/" was there
(a cgroup-v2 container seen from inside, whose id is in mountinfo)."""


def paths(text: str) -> list[str]:
    """The cgroup paths of a ``/proc/PID/cgroup`` text, the unified (``0::``) one last.

    One real line (Docker on cgroup v1, ctrsploit#280):
    ``11:freezer:/docker/2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d``.
    """
    v1: list[str] = []
    unified: list[str] = []
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) == 3:
            (unified if parts[0] == "0" and parts[1] == "" else v1).append(parts[2])
    return v1 + unified


def placement(text: str) -> Placement:
    """The container, pod and Slurm job named by any of the process's cgroup paths."""
    found = paths(text)
    container_id = runtime = pod = None
    job = None
    # Words first, patterns only where a word is there: most holders run in no container and no job.
    contained = any(word in text for word in _CONTAINER_WORDS)
    if not contained and "slurm" not in text:
        return Placement(root_only=bool(found) and all(p == "/" for p in found))
    for path in found:
        if container_id is None and contained and any(word in path for word in _CONTAINER_WORDS):
            for pattern, name in _CONTAINERS:
                match = re.search(pattern, path)
                if match:
                    container_id, runtime = match.group("id"), name
                    break
        if pod is None and "kubepods" in path:
            match = re.search(_POD, path)
            if match:
                pod = match.group("uid").replace("_", "-")
        if job is None and "slurm" in path:
            match = re.search(_SLURM, path)
            if match:
                job = int(match.group("job"))
    root_only = bool(found) and all(p == "/" for p in found)
    return Placement(container_id, runtime, pod, job, root_only)


def from_mountinfo(text: str) -> Placement:
    """A cgroup-v2 container's id and pod from its own mounts (``/proc/PID/mountinfo``).

    One real line (Elastic APM's container-metadata spec):
    ``3997 3984 253:1 /var/lib/docker/containers/6548c6863fb748e72d1e2a4f824fde92f720952d062dede1318c2d6219a672d6/
    hostname /etc/hostname rw,relatime shared:1877 - ext4 /dev/mapper/vgubuntu-root rw,errors=remount-ro``.
    A containerd sandbox's path (``.../sandboxes/<id>/hostname``) names the pod's sandbox, not the
    container: it is not taken for one.
    """
    container_id = pod = None
    for line in text.splitlines():
        fields = line.split()
        source = fields[3] + "/" if len(fields) > 3 else ""
        if container_id is None:
            for pattern in _MOUNTED:
                match = re.search(pattern, source)
                if match:
                    container_id = match.group("id")
                    break
        if pod is None:
            match = re.search(_MOUNTED_POD, source)
            if match:
                pod = match.group("uid")
    runtime = "docker" if container_id and "/var/lib/docker/" in text else None
    return Placement(container_id, runtime, pod)
