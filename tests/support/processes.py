"""Waiting for a process that is not our child to end: nothing of flockops may outlive a run."""

from __future__ import annotations

import os
import select


def ended(pid: int, within_s: float = 10.0) -> bool:
    """True once ``pid`` has ended (or is a zombie, which runs nothing), waiting at most ``within_s``:
    a pidfd becomes readable when its process exits (Linux 5.3)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], within_s)
        return bool(readable)
    finally:
        os.close(fd)
