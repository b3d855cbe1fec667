"""One process as /proc shows it: command line, name, parent, user, cgroups. Each file read once.

The reads go through the driver Context (``read_or_why`` and friends), so that a recorded tree
(``FLOCKOPS_PROC_ROOT``) or the shell probe's replay answers instead of this machine's /proc.
"""

from __future__ import annotations

import os

from ..driver import Context

# A command line longer than this is cut (the kernel allows 2 MiB; an engine's is a few hundred bytes).
MAX_CMDLINE_BYTES = 64 << 10


class Process:
    """Lazy views of ``/proc/PID``; each property reads its file on first use, and says why not."""

    def __init__(self, ctx: Context, pid: int) -> None:
        self.ctx = ctx
        self.pid = pid
        self.dir = os.path.join(ctx.proc_root, str(pid))
        self.errors: dict[str, str] = {}
        self._argv: list[str] | None = None
        self._status: dict[str, str] | None = None

    def read(self, name: str, what: str, size: int = 1 << 16) -> bytes | None:
        """``/proc/PID/name``, or None with ``errors[what]`` saying why."""
        data, why = self.ctx.read_or_why(f"{self.dir}/{name}", size)
        if data is None:
            self.errors.setdefault(what, f"/proc/{self.pid}/{name}: {why}")
        return data

    @property
    def argv(self) -> list[str]:
        """The command line's words; [] for one that cannot be read (or a kernel thread).

        One real line (``/proc/PID/cmdline``, NUL-separated):
        ``python3\\0-m\\0vllm.entrypoints.openai.api_server\\0--model\\0/models/Yi-1.5-34B-Chat/\\0``.
        A process that renamed itself (setproctitle: vLLM's ``VLLM::EngineCore``, SGLang's
        ``sglang::scheduler``) pads one word with spaces, or NULs: both are dropped.
        """
        if self._argv is None:
            raw = self.read("cmdline", "command_line", MAX_CMDLINE_BYTES) or b""
            words = raw.rstrip(b"\0").split(b"\0") if raw.strip(b"\0") else []
            self._argv = [w.decode(errors="replace") for w in words]
            if len(self._argv) == 1 and "  " in self._argv[0]:
                self._argv = [self._argv[0].rstrip(" ")]
        return self._argv

    @property
    def status(self) -> dict[str, str]:
        """``/proc/PID/status`` as a mapping: ``Name``, ``PPid``, ``Uid``..."""
        if self._status is None:
            # Name, PPid and Uid are in the first lines (fs/proc/array.c): the rest is not read.
            raw = self.read("status", "status", 1024) or b""
            self._status = {}
            for line in raw.decode(errors="replace").split("\n"):
                key, _, value = line.partition(":")
                self._status[key] = value.strip()
                if key == "Uid":
                    break
        return self._status

    @property
    def name(self) -> str | None:
        return self.status.get("Name") or None

    @property
    def ppid(self) -> int | None:
        value = self.status.get("PPid", "")
        return int(value) if value.isdigit() else None

    @property
    def uid(self) -> int | None:
        """The real user id (``Uid:`` line), else the owner of /proc/PID."""
        first = self.status.get("Uid", "").split()[:1]
        if first and first[0].isdigit():
            return int(first[0])
        return self.ctx.owner_uid(self.dir)

    def text(self, name: str, what: str) -> str | None:
        data = self.read(name, what)
        return None if data is None else data.decode(errors="replace")

    def children(self) -> list[int]:
        """The direct children (``task/PID/children``: kernels with CONFIG_PROC_CHILDREN, most distributions')."""
        data, _ = self.ctx.read_or_why(os.path.join(self.dir, "task", str(self.pid), "children"), 8192)
        return [int(w) for w in (data or b"").split() if w.isdigit()]

    def root_path(self, path: str) -> str:
        """``path`` as this process sees it (its mount namespace: a container's files), through /proc/PID/root."""
        return os.path.join(self.dir, "root", path.lstrip("/"))


class Processes:
    """The processes read in one probe, by pid: a holder on eight GPUs is read once, not eight times."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.seen: dict[int, Process] = {}

    def get(self, pid: int) -> Process:
        process = self.seen.get(pid)
        if process is None:
            process = self.seen[pid] = Process(self.ctx, pid)
        return process
