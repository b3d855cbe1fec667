"""The shell branch's records, replayed on the controller through the very same drivers.

What the shell branch (:mod:`flockops.remote.shell`) printed becomes a :class:`RecordedContext`:
a driver Context that answers from the recorded command results and sysfs files, never from the
controller's own machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from flockops.agent.driver import CommandResult, Context, Driver
from flockops.errors import DriverFailed, ParseError

NOT_RECORDED = "not recorded by the shell probe (no python3 3.10+ on the target)"


@dataclass(frozen=True)
class RecordedContext(Context):
    """A Context that answers from what the shell branch recorded on the target: command results
    and sysfs files. Anything not recorded reads as missing; the controller's own /sys is never read."""

    recorded: Mapping[tuple[str, ...], CommandResult] | None = None
    missing_tools: frozenset[str] = frozenset()
    files: Mapping[str, bytes] = field(default_factory=dict)
    dirs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)

    def which(self, tool: str) -> str | None:
        return None if tool in self.missing_tools or tool not in self.tools else tool

    @property
    def tools(self) -> frozenset[str]:
        return frozenset(argv[0] for argv in self.recorded or ())

    def run(self, argv: Sequence[str], timeout_s: float | None = None) -> CommandResult:
        key = tuple(argv)
        if self.recorded is None or key not in self.recorded:
            raise DriverFailed(f"the shell probe did not record `{' '.join(argv)}` (no Python on the target)")
        return self.recorded[key]

    def read_text(self, path: str) -> str | None:
        data = self.files.get(path)
        return None if data is None else data.rstrip(b"\x00").decode(errors="replace").strip()

    def read_bytes(self, path: str, size: int = 4096) -> bytes | None:
        data = self.files.get(path)
        return None if data is None else data[:size]

    def list_dir(self, path: str) -> list[str]:
        return sorted(self.dirs.get(path.rstrip("/"), ()))

    def real_name(self, path: str) -> str:
        return os.path.basename(self.links.get(path, path))

    def process_name(self, pid: int) -> str | None:
        return None

    # The shell probe records no /proc: the holders it lists stay unattributed, said so, and the
    # controller's own /proc (other processes, other pids) is never read in their place.
    def read_or_why(self, path: str, size: int = 1 << 16) -> tuple[bytes | None, str | None]:
        return None, NOT_RECORDED

    def link_or_why(self, path: str) -> tuple[str | None, str | None]:
        return None, NOT_RECORDED

    def list_or_why(self, path: str) -> tuple[list[str] | None, str | None]:
        return None, NOT_RECORDED

    def owner_uid(self, path: str) -> int | None:
        return None

    def user_name(self, uid: int) -> str | None:
        return None

    @property
    def empty(self) -> bool:
        """Nothing at all to read: no tool answered and no GPU-ish sysfs entry exists."""
        return not self.recorded and not self.dirs.get(os.path.join(self.sysfs_root, "class", "drm"))


def parse_shell_output(text: str) -> RecordedContext:
    """Split the shell branch's output into recorded command results and sysfs files."""
    recorded: dict[tuple[str, ...], CommandResult] = {}
    missing: set[str] = set()
    files: dict[str, bytes] = {}
    dirs: dict[str, tuple[str, ...]] = {}
    links: dict[str, str] = {}
    root = "/sys"
    current: tuple[str, ...] | None = None
    current_file: str | None = None
    body: list[str] = []
    for line in text.splitlines():
        if current_file is not None:
            if line == "@@end":
                files[current_file] = "\n".join(body).encode()
                current_file = None
            else:
                body.append(line)
        elif line.startswith("@@cmd "):
            current, body = tuple(line[len("@@cmd "):].split(" ")), []
        elif line.startswith("@@rc ") and current is not None:
            try:
                rc = int(line[len("@@rc "):])
            except ValueError:
                raise ParseError("bad exit status line from the shell probe", line) from None
            recorded[current] = CommandResult(current, rc, "\n".join(body) + "\n", "")
            current = None
        elif current is not None:
            body.append(line)
        elif line.startswith("@@missing "):
            missing.add(line[len("@@missing "):].strip())
        elif line.startswith("@@file "):
            current_file, body = line[len("@@file "):], []
        elif line.startswith("@@root "):
            root = line[len("@@root "):].strip() or root
        elif line.startswith("@@dir "):
            path, *names = line[len("@@dir "):].split(" ")
            dirs[path] = tuple(names)
        elif line.startswith("@@link "):
            path, _, target = line[len("@@link "):].partition(" ")
            links[path] = target
        elif line.startswith("@@hex "):
            path, _, hexdigits = line[len("@@hex "):].partition(" ")
            try:
                files[path] = bytes.fromhex(hexdigits.strip())
            except ValueError:
                raise ParseError("bad hex dump from the shell probe", line) from None
    return RecordedContext(env={}, sysfs_root=root, recorded=recorded, missing_tools=frozenset(missing),
                           files=files, dirs=dirs, links=links)


def shell_drivers() -> list[Driver]:
    """The built-in drivers that can work from what the shell branch records."""
    from flockops.agent.drivers.amd_smi import AmdSmiDriver
    from flockops.agent.drivers.nvidia_smi import NvidiaSmiDriver
    from flockops.agent.drivers.rocm_smi import RocmSmiDriver
    from flockops.agent.drivers.sysfs import AmdgpuSysfsDriver, IntelSysfsDriver

    return [NvidiaSmiDriver(), AmdSmiDriver(), RocmSmiDriver(), AmdgpuSysfsDriver(), IntelSysfsDriver()]
