"""A container's name, and its pod's namespace and name, from the runtimes' and the kubelet's files.

Read under ``Context.host_root`` (``/``, or ``FLOCKOPS_HOST_ROOT``), each once per probe:

- Docker: ``/var/lib/docker/containers/<id>/config.v2.json``: ``"Name": "/vllm"``, and a pod's
  labels (``io.kubernetes.pod.namespace``...) where the kubelet drove Docker. Readable by root only.
- Podman: ``/var/lib/containers/storage/overlay-containers/containers.json`` (rootful), and the
  container owner's ``~/.local/share/containers/storage/overlay-containers/containers.json``.
- The kubelet, any runtime: ``/var/log/containers/<pod>_<namespace>_<container>-<id>.log`` and
  ``/var/log/pods/<namespace>_<pod>_<uid>/``, world-readable directories.

containerd outside Kubernetes keeps its names in its own database, which is not read: the id
is reported, the name is None with that reason.
"""

from __future__ import annotations

import json
import os
import re

from ..driver import Context

DOCKER_CONFIG = "var/lib/docker/containers/{id}/config.v2.json"
PODMAN_CONTAINERS = "var/lib/containers/storage/overlay-containers/containers.json"
PODMAN_USER_CONTAINERS = ".local/share/containers/storage/overlay-containers/containers.json"
KUBELET_CONTAINERS = "var/log/containers"
KUBELET_PODS = "var/log/pods"


class Runtimes:
    """What the runtimes' files say, read on first need and kept for the probe."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._kubelet_containers: dict[str, tuple[str, str, str]] | None = None
        self._kubelet_pods: dict[str, tuple[str, str]] | None = None
        self._podman: dict[str, dict[str, str]] = {}

    def path(self, relative: str) -> str:
        return os.path.join(self.ctx.host_root, relative)

    def docker(self, container_id: str) -> tuple[dict[str, str], str | None]:
        """{"name": ..., "pod_name": ..., "pod_namespace": ...} from Docker's config, or ({}, why not)."""
        path = self.path(DOCKER_CONFIG.format(id=container_id))
        data, why = self.ctx.read_or_why(path, 1 << 20)
        if data is None:
            hint = " (Docker keeps it readable by root only)" if why == "permission denied" else ""
            return {}, f"/{DOCKER_CONFIG.format(id=container_id[:12] + '...')}: {why}{hint}"
        try:
            config = json.loads(data)
        except ValueError:
            return {}, f"/{DOCKER_CONFIG.format(id=container_id[:12] + '...')}: not JSON"
        out: dict[str, str] = {}
        name = config.get("Name") if isinstance(config, dict) else None
        if isinstance(name, str) and name.strip("/"):
            out["name"] = name.strip("/")
        labels = (config.get("Config") or {}).get("Labels") or {} if isinstance(config, dict) else {}
        if isinstance(labels, dict):
            for label, key in (("io.kubernetes.pod.name", "pod_name"), ("io.kubernetes.pod.namespace", "pod_namespace"),
                               ("io.kubernetes.container.name", "name")):
                if isinstance(labels.get(label), str):
                    out[key] = labels[label]
        return out, None

    def podman(self, container_id: str, uid: int | None) -> tuple[str | None, str | None]:
        """The container's first name from Podman's containers.json (rootful, then the owner's), or why not."""
        places = [self.path(PODMAN_CONTAINERS)]
        home = _home(uid)
        if home:
            places.append(os.path.join(self.ctx.host_root, home.lstrip("/"), PODMAN_USER_CONTAINERS))
        reasons: list[str] = []
        for path in places:
            names = self._podman_names(path, reasons)
            if container_id in names:
                return names[container_id], None
        return None, "; ".join(reasons) or "no containers.json lists it"

    def _podman_names(self, path: str, reasons: list[str]) -> dict[str, str]:
        if path not in self._podman:
            data, why = self.ctx.read_or_why(path, 16 << 20)
            names: dict[str, str] = {}
            if data is None:
                reasons.append(f"{path[len(self.ctx.host_root.rstrip('/')):]}: {why}")
            else:
                try:
                    entries = json.loads(data)
                except ValueError:
                    entries = []
                for entry in entries if isinstance(entries, list) else ():
                    listed = entry.get("names") if isinstance(entry, dict) else None
                    if isinstance(entry.get("id"), str) and isinstance(listed, list) and listed:
                        names[entry["id"]] = str(listed[0])
            self._podman[path] = names
        return self._podman[path]

    def kubelet_container(self, container_id: str) -> tuple[str, str, str] | None:
        """(pod name, namespace, container name) from the kubelet's ``/var/log/containers`` links."""
        if self._kubelet_containers is None:
            self._kubelet_containers = {}
            names, _ = self.ctx.list_or_why(self.path(KUBELET_CONTAINERS))
            for name in names or ():
                match = re.match(r"^(?P<pod>[^_]+)_(?P<ns>[^_]+)_(?P<container>.+)-(?P<id>[0-9a-f]{64})\.log$", name)
                if match:
                    self._kubelet_containers[match.group("id")] = (match.group("pod"), match.group("ns"),
                                                                   match.group("container"))
        return self._kubelet_containers.get(container_id)

    def kubelet_pod(self, pod_uid: str) -> tuple[str, str] | None:
        """(namespace, pod name) from the kubelet's ``/var/log/pods/<namespace>_<pod>_<uid>`` directories."""
        if self._kubelet_pods is None:
            self._kubelet_pods = {}
            names, _ = self.ctx.list_or_why(self.path(KUBELET_PODS))
            for name in names or ():
                match = re.match(r"^(?P<ns>[^_]+)_(?P<pod>[^_]+)_(?P<uid>[0-9a-f-]{36})$", name)
                if match:
                    self._kubelet_pods[match.group("uid")] = (match.group("ns"), match.group("pod"))
        return self._kubelet_pods.get(pod_uid)


def _home(uid: int | None) -> str | None:
    if uid is None or uid == 0:
        return None
    import pwd

    try:
        return pwd.getpwuid(uid).pw_dir
    except (KeyError, OverflowError):
        return None
