"""Recorded /proc trees: a process directory per pid, for the cases no test can start for real
(a container's, a pod's, a Slurm job's). Read by flockops through ``FLOCKOPS_PROC_ROOT``.

The cgroup lines and command lines written here come from the captures in tests/data/engines
(see SOURCES.md there); what is constructed around them (the pids, the status files) is only
what the kernel would add.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

HOST_NET = "net:[4026531840]"  # the probe's own network namespace, in a recorded tree


def proc_root(root: Path) -> Path:
    """An empty recorded /proc with ``self`` (the reader's namespace links)."""
    (root / "self" / "ns").mkdir(parents=True, exist_ok=True)
    if not (root / "self" / "ns" / "net").is_symlink():
        os.symlink(HOST_NET, root / "self" / "ns" / "net")
    return root


def write_process(root: Path, pid: int, argv: Sequence[str], cgroup: str = "0::/user.slice\n", *,
                  uid: int = 0, ppid: int = 1, name: str | None = None, mountinfo: str | None = None) -> Path:
    """``root/PID`` with the files flockops reads: cmdline, comm, status, cgroup (and mountinfo)."""
    directory = root / str(pid)
    directory.mkdir(parents=True)
    (directory / "cmdline").write_bytes(b"\0".join(w.encode() for w in argv) + b"\0")
    comm = name or os.path.basename(argv[0])[:15]
    (directory / "comm").write_text(comm + "\n")
    (directory / "status").write_text(f"Name:\t{comm}\nPid:\t{pid}\nPPid:\t{ppid}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n")
    (directory / "cgroup").write_text(cgroup)
    if mountinfo is not None:
        (directory / "mountinfo").write_text(mountinfo)
    return directory
