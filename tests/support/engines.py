"""Real processes with inference engines' command lines, serving the engines' recorded bodies.

    with Standins(tmp_path) as engines:
        vllm = engines.start(["vllm", "serve", "facebook/opt-125m"], {"/metrics": DATA / ...})
        # vllm.pid holds "GPU memory" once the fake NVML lists it; vllm.port is where it listens

Each stand-in is :mod:`support.engine_standin` under the engine's argv: a console script (``vllm``)
runs as ``python3 /path/vllm serve ...``, ``-m`` modules through a package written beside it, any
other name as argv[0] (``llama-server``), as the real binaries show in /proc. Every process is
stopped by its pid when the block ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .processes import ended

STANDIN = Path(__file__).resolve().parent / "engine_standin.py"


@dataclass
class Standin:
    pid: int
    port: int
    process: subprocess.Popen[bytes]
    peers: Path
    child: int | None = None  # a worker it started (FLOCKOPS_STANDIN_CHILD)

    def peer_names(self) -> list[str]:
        """Who opened each connection so far (the stand-in's log): ``["uid=999 ?", "uid=0 python3", ...]``."""
        if not self.peers.exists():
            return []
        return [line.split(" ", 1)[1] for line in self.peers.read_text().splitlines()]


@dataclass
class Standins:
    root: Path
    python: str = sys.executable
    running: list[Standin] = field(default_factory=list)

    def start(self, argv: list[str], routes: dict[str, Path | tuple[int, Path]], user: str | None = None,
              timeout_s: float = 20.0, child: str | None = None) -> Standin:
        """Start ``argv`` (the engine's command line) serving ``routes`` ({path: body file, or (status, file)});
        ``child``: the name of a worker it starts first (``VLLM::Worker_TP0``)."""
        index = len(self.running)
        work = self.root / f"engine-{index}"
        work.mkdir(parents=True, exist_ok=True)
        table = {path: ([200, str(spec)] if isinstance(spec, Path) else [spec[0], str(spec[1])])
                 for path, spec in routes.items()}
        (work / "routes.json").write_text(json.dumps(table))
        peers = work / "peers.log"
        env = {**os.environ, "FLOCKOPS_STANDIN_ROUTES": str(work / "routes.json"),
               "FLOCKOPS_STANDIN_PEERS": str(peers), "PYTHONDONTWRITEBYTECODE": "1"}
        if child:
            env["FLOCKOPS_STANDIN_CHILD"] = child
        command, executable = self._command(argv, work, env)
        for path in [work, *work.rglob("*")]:  # the SSH test's user runs some of these
            path.chmod(0o777 if path.is_dir() else 0o666)
        # As that user whole (its group too: another group would make its /proc links the kernel's to
        # hide from that user), in its own process group: stopping it stops the worker it started too.
        identity: dict[str, object] = {}
        if user is not None:
            import pwd

            identity = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}
        process = subprocess.Popen(command, executable=executable, env=env, stdout=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, cwd=work, start_new_session=True,
                                   **identity)  # type: ignore[call-overload]
        lines = self._ready(process, timeout_s)
        said = dict(line.split(" ", 1) for line in lines)
        standin = Standin(process.pid, int(said["ready"]), process, peers,
                          int(said["child"]) if "child" in said else None)
        self.running.append(standin)
        return standin

    def _command(self, argv: list[str], work: Path, env: dict[str, str]) -> tuple[list[str], str]:
        if argv[:1] == ["python3"] and argv[1:2] == ["-m"]:
            package = work / "pkg"
            module = package.joinpath(*argv[2].split("."))
            module.parent.mkdir(parents=True, exist_ok=True)
            for parent in [module.parent, *module.parent.parents]:
                if parent == package.parent:
                    break
                (parent / "__init__.py").touch()
            module.with_suffix(".py").write_text(
                f"import runpy\nrunpy.run_path({str(STANDIN)!r}, run_name='__main__')\n")
            env["PYTHONPATH"] = str(package)
            return ["python3", "-m", *argv[2:]], self.python
        if argv[0] in ("vllm", "sglang", "text-generation-server"):  # console scripts: python3 SCRIPT ...
            script = work / "bin" / argv[0]
            script.parent.mkdir(exist_ok=True)
            script.write_text(f"import runpy\nrunpy.run_path({str(STANDIN)!r}, run_name='__main__')\n")
            return ["python3", str(script), *argv[1:]], self.python
        return [argv[0], str(STANDIN), *argv[1:]], self.python

    @staticmethod
    def _ready(process: subprocess.Popen[bytes], timeout_s: float) -> list[str]:
        """The stand-in's lines up to "ready PORT", waited for with a deadline."""
        assert process.stdout is not None
        deadline = time.monotonic() + timeout_s
        seen = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while b"ready " not in seen or not seen.endswith(b"\n"):
                left = deadline - time.monotonic()
                if process.poll() is not None or left <= 0:
                    process.kill()
                    process.wait()
                    raise RuntimeError(f"the engine stand-in did not start: {seen!r}")
                if selector.select(left):
                    chunk = os.read(process.stdout.fileno(), 4096)
                    if not chunk:
                        continue
                    seen += chunk
        return seen.decode().split("\n")[:-1]

    def stop(self) -> None:
        import signal

        for standin in self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(standin.pid, signal.SIGTERM)  # the stand-in and any worker it started
            standin.process.wait(timeout=10)
            if standin.child is not None:
                assert ended(standin.child), f"the stand-in's worker {standin.child} outlived it"
            if standin.process.stdout is not None:
                standin.process.stdout.close()
        self.running.clear()

    def __enter__(self) -> Standins:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
