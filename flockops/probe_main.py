"""The target side of the remote probe: run every built-in driver here and print one JSON report.

Runs from an in-memory zip under the target's python3 (see ``flockops.probe``).
Standard library, the drivers and ``pynvml`` only.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Sequence

from .collect import collect_host
from .driver import Context, Driver
from .drivers import BUILTIN_DRIVERS
from .model import host_to_dict


def builtin_drivers() -> list[Driver]:
    drivers = []
    for target in BUILTIN_DRIVERS.values():
        module_name, class_name = target.split(":")
        drivers.append(getattr(importlib.import_module(module_name), class_name)())
    return drivers


def main(selected: Sequence[str]) -> None:
    report = collect_host(builtin_drivers(), Context.local(), host="", selected=list(selected) or None)
    sys.stdout.write(json.dumps(host_to_dict(report)) + "\n")
