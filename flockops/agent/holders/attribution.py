"""Each GPU's holders, attributed: the drivers' processes joined with what /proc and the runtimes say.

Runs once per report, after the drivers: every process a driver listed is read once however
many GPUs it holds (a tensor-parallel engine holds eight), and only those; an engine's parents
only where the holder is its worker; the sockets only of engines, once per engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..driver import Context
from ..fields import printable
from ..model import Engine, GpuProcess, GpuSample, ListenSocket
from ..parse import pci_bus_key
from ..secrets import mask_argv
from .cgroups import Placement, from_mountinfo, placement
from .commands import DEFAULT_PORTS, Command, recognise
from .proc import Process, Processes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .ollama_blobs import Manifests
    from .runtimes import Runtimes
    from .sockets import Listeners

# How far up from a worker its engine may be (vLLM: worker -> engine core -> API server).
MAX_PARENTS = 4
# Engines the controller asks over HTTP (Ollama is asked at its own /api/ps, its runners are not).
HTTP_ENGINES = frozenset({Engine.VLLM, Engine.SGLANG, Engine.LLAMA_CPP, Engine.TGI, Engine.LOCALAI, Engine.LMSTUDIO})
MAX_SOCKETS = 8


class Attribution:
    """The readers of one report, with what they have read so far."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.processes = Processes(ctx)
        self.done: dict[int, dict[str, Any]] = {}
        self.users: dict[int, str | None] = {}
        self.engine_roots: dict[int, tuple[tuple[ListenSocket, ...] | None, str | None]] = {}
        self._runtimes: Runtimes | None = None
        self._listeners: Listeners | None = None
        self._manifests: Manifests | None = None

    @property
    def runtimes(self) -> Runtimes:
        if self._runtimes is None:
            from .runtimes import Runtimes

            self._runtimes = Runtimes(self.ctx)
        return self._runtimes

    @property
    def listeners(self) -> Listeners:
        if self._listeners is None:
            from .sockets import Listeners

            self._listeners = Listeners(self.ctx)
        return self._listeners

    @property
    def manifests(self) -> Manifests:
        if self._manifests is None:
            from .ollama_blobs import Manifests

            self._manifests = Manifests()
        return self._manifests

    def holder(self, held: GpuProcess) -> GpuProcess:
        fields = self.done.get(held.pid)
        if fields is None:
            fields = self.done[held.pid] = self._read(held.pid)
        errors = {**held.field_errors, **fields["field_errors"]}
        return replace(held, **{**fields, "field_errors": errors, "name": held.name or fields["name"]})

    def _read(self, pid: int) -> dict[str, Any]:
        process = self.processes.get(pid)
        errors = process.errors
        argv = process.argv
        out: dict[str, Any] = {"name": process.name, "command_line": " ".join(mask_argv(argv)) or None}
        if not argv and "command_line" not in errors:
            errors["command_line"] = "empty (a kernel thread, or a process that is ending)"
        out.update(self._user(process, errors))
        errors.pop("status", None)  # said as the user's, when it matters
        out.update(self._engine(process, errors))
        out.update(self._placement(process, errors))
        # What a process says of itself (its command line, a runtime's names) reaches terminals.
        out = {key: printable(value) if isinstance(value, str) else value for key, value in out.items()}
        out["field_errors"] = printable(dict(errors))
        return out

    def _user(self, process: Process, errors: dict[str, str]) -> dict[str, Any]:
        uid = process.uid
        if uid is None:
            errors.setdefault("user", errors.get("status", f"/proc/{process.pid}: unreadable"))
            return {"uid": None, "user": None}
        if uid not in self.users:
            self.users[uid] = self.ctx.user_name(uid)
        user = self.users[uid]
        if user is None:
            errors["user"] = f"uid {uid} has no name in this host's passwd database (a container's own user?)"
        return {"uid": uid, "user": user}

    # --- engine and model ---
    def _engine(self, process: Process, errors: dict[str, str]) -> dict[str, Any]:
        command = recognise(process.argv, process.name)
        chain: list[tuple[Process, Command]] = [] if command is None else [(process, command)]
        if command is None and not _multiprocessing_child(process.argv):
            return {}
        current = process
        # Up the parents only from a worker (the engine that serves is above it); an engine that
        # serves itself is its own root.
        climbs = MAX_PARENTS if command is None or command.worker else 0
        for _ in range(climbs):
            ppid = current.ppid
            if ppid is None or ppid <= 1:
                break
            parent = self.processes.get(ppid)
            found = recognise(parent.argv, parent.name)
            if found is None or (chain and found.engine != chain[0][1].engine):
                break
            chain.append((parent, found))
            current = parent
        if not chain:
            return {}
        root, root_command = chain[-1]
        engine = chain[0][1].engine
        out: dict[str, Any] = {"engine": engine, "engine_pid": root.pid}
        for key, attr in (("model", "model"), ("engine_memory_fraction", "memory_fraction"),
                          ("model_on_cpu", "model_on_cpu")):
            out[key] = next((getattr(c, attr) for _, c in chain if getattr(c, attr) is not None), None)
        runner = next(((p, c) for p, c in chain if c.blob_digest), None)
        if runner is not None and out["model"] is None:
            name, why = self.manifests.name(runner[0], runner[1].models_dir or "", runner[1].blob_digest or "")
            out["model"] = name
            if name is None:
                errors["model"] = f"the runner's blob {runner[1].blob_digest}: {why}"
        elif out["model"] is None:
            errors["model"] = f"{engine}'s command line names no model"
        if engine in HTTP_ENGINES:
            port = next((c.port for _, c in chain if c.port is not None), None)
            out["listening"], why = self._sockets(root, process, engine, port)
            if why is not None:
                errors["listening"] = why
        return out

    def _sockets(self, root: Process, holder: Process, engine: Engine,
                 port: int | None) -> tuple[tuple[ListenSocket, ...] | None, str | None]:
        """What the engine (its root, the root's children, the holder) listens on, narrowed to the port
        its flags name, else its default port, when it listens there."""
        if root.pid in self.engine_roots:
            return self.engine_roots[root.pid]
        found: list[ListenSocket] = []
        reasons = []
        # TGI's router, which serves its HTTP, is its launcher's child; the others serve from the root.
        children = root.children() if engine == Engine.TGI else []
        for pid in dict.fromkeys([root.pid, *children, holder.pid]):
            sockets, why = self.listeners.sockets(self.processes.get(pid))
            if sockets is None:
                if pid == root.pid:
                    reasons.append(why or "unreadable")
                continue
            found.extend(sockets)
        result: tuple[tuple[ListenSocket, ...] | None, str | None]
        if not found and reasons:
            result = (None, reasons[0])
        else:
            for wanted in (port, DEFAULT_PORTS.get(engine)):
                if wanted is not None and any(s.port == wanted for s in found):
                    found = [s for s in found if s.port == wanted]
                    break
            result = (tuple(found[:MAX_SOCKETS]), None)
        self.engine_roots[root.pid] = result
        return result

    # --- container, pod, job ---
    def _placement(self, process: Process, errors: dict[str, str]) -> dict[str, Any]:
        text = process.text("cgroup", "container_id")
        if text is None:
            return {}
        where = placement(text)
        if where.root_only:
            mounts = process.text("mountinfo", "container_id")
            if mounts is not None:
                where = from_mountinfo(mounts)
        out: dict[str, Any] = {"container_id": where.container_id, "container_runtime": where.container_runtime,
                               "pod_uid": where.pod_uid, "slurm_job_id": where.slurm_job_id}
        if where.container_id is not None:
            out.update(self._names(where, process.uid, errors))
        if where.pod_uid is not None and "pod_name" not in out:
            pod = self.runtimes.kubelet_pod(where.pod_uid)
            if pod is not None:
                out["pod_namespace"], out["pod_name"] = pod
            else:
                errors["pod_name"] = f"no /var/log/pods/<namespace>_<name>_{where.pod_uid} (the kubelet's) here"
        return out

    def _names(self, where: Placement, uid: int | None, errors: dict[str, str]) -> dict[str, Any]:
        assert where.container_id is not None
        out: dict[str, Any] = {}
        if where.pod_uid is not None:
            listed = self.runtimes.kubelet_container(where.container_id)
            if listed is not None:
                out["pod_name"], out["pod_namespace"], out["container_name"] = listed
                return out
        if where.container_runtime == "docker":
            found, why = self.runtimes.docker(where.container_id)
            out.update({("container_name" if k == "name" else k): v for k, v in found.items()})
            if why is not None:
                errors["container_name"] = why
        elif where.container_runtime == "podman":
            out["container_name"], why = self.runtimes.podman(where.container_id, uid)
            if why is not None:
                errors["container_name"] = why
        else:
            runtime = where.container_runtime or "its runtime (the cgroup path does not name it)"
            errors["container_name"] = f"{runtime} keeps no name file flockops reads outside the kubelet's"
        return out


def _multiprocessing_child(argv: Sequence[str]) -> bool:
    """A worker a Python engine started with multiprocessing's spawn (vLLM before its V1 engine)."""
    return "--multiprocessing-fork" in argv or any("multiprocessing" in w for w in argv[1:3])


def attribute(gpus: Sequence[GpuSample], ctx: Context) -> list[GpuSample]:
    """``gpus`` with every holder attributed, and the DRM clients of amdgpu, i915 and xe GPUs whose
    driver listed no processes."""
    out = list(gpus)
    wanted = {pci_bus_key(g.pci_bus_id): i for i, g in enumerate(out)
              if g.processes is None and g.vendor in ("amd", "intel") and not g.lost and pci_bus_key(g.pci_bus_id)}
    if wanted:
        from .fdinfo import drm_holders

        holders, unreadable = drm_holders(ctx, {k for k in wanted if k})
        for bus, i in wanted.items():
            gpu = out[i]
            notes = dict(gpu.field_errors)
            if unreadable:
                notes["processes"] = (f"{unreadable} processes' fds could not be read (permission denied): "
                                      "holders among them are missing; run as root to see every holder")
            out[i] = replace(gpu, processes=tuple(holders.get(bus or "", ())), field_errors=notes)
    attribution = Attribution(ctx)
    return [gpu if not gpu.processes else replace(gpu, processes=tuple(attribution.holder(p) for p in gpu.processes))
            for gpu in out]
