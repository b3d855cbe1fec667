"""What a vendor driver is, and the small context it is handed.

A driver needs only the standard library, its vendor binding and this context: the same
driver code runs on this machine and, shipped over SSH, inside the remote probe. A driver
never prints and never imports the CLI, the renderer, paramiko or tabulate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from flockops.errors import DriverFailed, DriverUnavailable

from .fields import seconds
from .model import GpuSample

# typing is slow to import and the probe never needs it: annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

# Non-login SSH sessions have a short PATH; vendor tools often live here.
EXTRA_TOOL_DIRS = ("/usr/bin", "/usr/local/bin", "/opt/rocm/bin", "/usr/lib/wsl/lib")


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command printed and how it ended."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Context:
    """How a driver reaches the host: run a command, read sysfs and /proc, see the environment."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    # Plain strings, not pathlib: this module is on every report's start-up path.
    sysfs_root: str = "/sys"
    proc_root: str = "/proc"
    command_timeout_s: float = 10.0
    # Where the host's own files are (the container runtimes' and the kubelet's, under /var).
    host_root: str = "/"

    @classmethod
    def local(cls) -> Context:
        env = dict(os.environ)
        try:
            timeout = float(env.get("FLOCKOPS_COMMAND_TIMEOUT", "10"))
        except ValueError:
            timeout = 10.0
        if not 0 < timeout < 86400:  # nan, inf, 0 or less: the default, as for a value that is no number
            timeout = 10.0
        # Both roots can point at a recorded tree (tests, the benchmarks), as the kernel's own do not.
        return cls(env=env, sysfs_root=env.get("FLOCKOPS_SYSFS_ROOT", "/sys"),
                   proc_root=env.get("FLOCKOPS_PROC_ROOT", "/proc"), command_timeout_s=timeout,
                   host_root=env.get("FLOCKOPS_HOST_ROOT", "/"))

    def which(self, tool: str) -> str | None:
        """The tool's path on PATH or in the usual vendor directories, else None."""
        for directory in (*self.env.get("PATH", "").split(os.pathsep), *EXTRA_TOOL_DIRS):
            candidate = os.path.join(directory or ".", tool)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        return None

    def run(self, argv: Sequence[str], timeout_s: float | None = None) -> CommandResult:
        """Run a tool with the C locale and a timeout; never through a shell.

        A tool that hangs (nvidia-smi does when a GPU falls off the bus) becomes DriverFailed
        naming the timeout, not a stuck report; one that prints without end is stopped at
        :data:`MAX_TOOL_OUTPUT_BYTES`. Either way its whole process group goes, children included
        (a wrapper script's nvidia-smi), so nothing of ours outlives the report.
        """
        import subprocess  # only drivers that run tools pay for it

        env = dict(self.env)
        env["LC_ALL"] = "C"
        timeout = self.command_timeout_s if timeout_s is None else timeout_s
        try:
            process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, env=env, start_new_session=True)
        except FileNotFoundError:
            raise DriverUnavailable(f"{argv[0]} not found") from None
        except OSError as exc:
            raise DriverFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        try:
            stdout, stderr = _read_bounded(process, timeout)
        except TimeoutError:
            raise DriverFailed(f"{argv[0]} did not answer within {seconds(timeout)} s") from None
        except OverflowError:
            raise DriverFailed(f"{argv[0]} printed more than {MAX_TOOL_OUTPUT_BYTES >> 20} MiB; stopped") from None
        finally:
            _end(process)
        return CommandResult(tuple(argv), process.returncode if process.returncode is not None else -1,
                             stdout.decode(errors="replace"), stderr.decode(errors="replace"))

    def read_text(self, path: str) -> str | None:
        """A small file's text with trailing NULs and whitespace removed, or None if unreadable."""
        try:
            with open(path, "rb") as handle:
                return handle.read().rstrip(b"\x00").decode(errors="replace").strip()
        except OSError:
            return None

    def read_bytes(self, path: str, size: int = 4096) -> bytes | None:
        """The first ``size`` bytes of a (binary) file, or None if unreadable."""
        try:
            with open(path, "rb") as handle:
                return handle.read(size)
        except OSError:
            return None

    def list_dir(self, path: str) -> list[str]:
        """The names in a directory, sorted; [] when it is missing or unreadable."""
        try:
            return sorted(os.listdir(path))
        except OSError:
            return []

    def real_name(self, path: str) -> str:
        """The last component of where ``path`` points (sysfs ``device`` links end in the PCI address)."""
        return os.path.basename(os.path.realpath(path))

    def process_name(self, pid: int) -> str | None:
        """A process's name where /proc shows it (another container's pids are not visible)."""
        return self.read_text(os.path.join(self.proc_root, str(pid), "comm"))

    # --- /proc and the container runtimes' files, where a reason matters as much as the data ---
    def read_or_why(self, path: str, size: int = 1 << 16) -> tuple[bytes | None, str | None]:
        """(the first ``size`` bytes of ``path``, None), or (None, why not: "permission denied")."""
        try:
            # In chunks: a /proc file says its size is 0, and reading "up to size" at once would first
            # allocate all of ``size`` (tens of MiB for a host's socket table).
            with open(path, "rb", buffering=0) as handle:
                chunks = []
                left = size
                while left > 0:
                    chunk = handle.read(min(left, 1 << 16))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    left -= len(chunk)
                return b"".join(chunks), None
        except OSError as exc:
            return None, _why(exc)

    def link_or_why(self, path: str) -> tuple[str | None, str | None]:
        """(where the symbolic link ``path`` points, None), or (None, why not)."""
        try:
            return os.readlink(path), None
        except OSError as exc:
            return None, _why(exc)

    def list_or_why(self, path: str) -> tuple[list[str] | None, str | None]:
        """(the names in the directory ``path``, unsorted, None), or (None, why not)."""
        try:
            return os.listdir(path), None
        except OSError as exc:
            return None, _why(exc)

    def owner_uid(self, path: str) -> int | None:
        """The user id owning ``path`` (a /proc/PID directory: the process's user), or None."""
        try:
            return os.stat(path).st_uid
        except OSError:
            return None

    def user_name(self, uid: int) -> str | None:
        """The name of user ``uid`` in this host's passwd database, or None when it has none."""
        import pwd

        try:
            return pwd.getpwuid(uid).pw_name
        except (KeyError, OverflowError):
            return None


def _why(exc: OSError) -> str:
    """An OSError as the few words a report shows: "permission denied", "no such file"."""
    import errno

    words = {errno.EACCES: "permission denied", errno.EPERM: "permission denied", errno.ENOENT: "no such file",
             errno.ESRCH: "the process ended"}
    return words.get(exc.errno or 0, (exc.strerror or str(exc)).lower())


# A tool's answer is kilobytes per GPU; more is a tool gone wrong, and must not fill the memory.
MAX_TOOL_OUTPUT_BYTES = 16 << 20


def _read_bounded(process: Any, timeout_s: float) -> tuple[bytes, bytes]:
    """Both pipes of ``process`` read as they fill, until it exits; TimeoutError past ``timeout_s``,
    OverflowError past MAX_TOOL_OUTPUT_BYTES."""
    import selectors
    import time

    deadline = time.monotonic() + timeout_s
    chunks: dict[int, list[bytes]] = {process.stdout.fileno(): [], process.stderr.fileno(): []}
    size = 0
    with selectors.DefaultSelector() as selector:
        for pipe in (process.stdout, process.stderr):
            selector.register(pipe, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError()
            for key, _ in selector.select(left):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                chunks[key.fd].append(data)
                size += len(data)
                if size > MAX_TOOL_OUTPUT_BYTES:
                    raise OverflowError()
    process.wait(max(0.0, deadline - time.monotonic()))
    return b"".join(chunks[process.stdout.fileno()]), b"".join(chunks[process.stderr.fileno()])


def _end(process: Any) -> None:
    """The tool's process group killed (the tool if it still runs, and whatever it started), then the
    tool reaped. A group outlives its leader while a member lives, so its id is not reused meanwhile."""
    import contextlib
    import signal

    with contextlib.suppress(OSError):  # the group is gone already
        os.killpg(process.pid, signal.SIGKILL)
    for pipe in (process.stdout, process.stderr):
        pipe.close()
    process.wait()


class Driver:
    """A vendor driver. Subclasses set the three class attributes and implement two methods.

    ``priority``: lower is tried first among drivers of the same vendor.
    """

    name: ClassVar[str]
    vendor: ClassVar[str]
    priority: ClassVar[int]
    # True for a cheap driver (no tool to run: sysfs) that the core also runs after another
    # driver of its vendor answered, to fill fields that one lacked (matched by PCI bus id).
    supplements: ClassVar[bool] = False

    def probe(self, ctx: Context) -> None:
        """Cheaply check that this driver can run here; raise DriverUnavailable saying why not."""
        raise NotImplementedError

    def collect(self, ctx: Context) -> Sequence[GpuSample]:
        """Sample every GPU this driver sees.

        Raise DriverUnavailable when it cannot run here (the chain tries the next driver),
        DriverFailed (or anything else) when it broke. A GPU that is lost is returned with
        ``lost=True``, never dropped; a field that cannot be read is None.
        """
        raise NotImplementedError


def contract_problem(driver: object) -> str | None:
    """Why ``driver`` (a plugin's, so unchecked) cannot join a collection, or None when it can:
    the core sorts and labels by these attributes before any of its code runs."""
    if not isinstance(driver, Driver):
        return f"{type(driver).__name__} is not a subclass of flockops.agent.driver.Driver"
    for attribute in ("name", "vendor"):
        value = getattr(driver, attribute, None)
        if not isinstance(value, str) or not value:
            return f"its {attribute} is {value!r}, not a non-empty string"
    priority = getattr(driver, "priority", None)
    if not isinstance(priority, int) or isinstance(priority, bool):
        return f"{driver.name}: its priority is {priority!r}, not an integer"
    return None


class ToolDriver(Driver):
    """A driver that runs a vendor's command-line tool (nvidia-smi, rocm-smi, ...).

    Set ``tool`` and, for the message, ``tool_home`` (where the vendor installs it).
    """

    tool: ClassVar[str]
    tool_home: ClassVar[str] = "/usr/bin"

    def tool_path(self, ctx: Context) -> str:
        """The tool's path; DriverUnavailable naming where it was looked for when it is missing."""
        path = ctx.which(self.tool)
        if path is None:
            raise DriverUnavailable(f"{self.tool} not found on PATH or in {self.tool_home}")
        return path

    def probe(self, ctx: Context) -> None:
        self.tool_path(ctx)

    def planned_commands(self) -> list[list[str]]:
        """The commands collect() runs when all goes well: a target without Python records
        their output in the shell probe and this driver parses it on the controller."""
        return []

