"""A third-party driver plugin in its simplest real form, installed for a test."""

from __future__ import annotations

from pathlib import Path

DRIVER_SOURCE = '''
import flockops
from flockops.agent.driver import Driver
from flockops.errors import DriverUnavailable
from flockops.agent.model import GpuSample


class AcmeDriver(Driver):
    name = "acme"
    vendor = "acme"
    priority = 10

    def probe(self, ctx):
        raise DriverUnavailable("no ACME card in this machine")

    def collect(self, ctx):
        return [GpuSample(vendor="acme", index=0, source="acme", name="ACME Rocket 1",
                          memory_total_bytes=1 << 30, memory_used_bytes=1 << 20)]


@flockops.hookimpl
def register_drivers(register):
    register(AcmeDriver())
'''


def make_distribution(root: Path, module: str, source: str, ep_name: str = "acme") -> Path:
    """An installed distribution in its simplest real form: a module plus a dist-info on sys.path."""
    (root / f"{module}.py").write_text(source)
    info = root / f"{module}_dist-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}-dist\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[flockops]\n{ep_name} = {module}\n")
    return root
