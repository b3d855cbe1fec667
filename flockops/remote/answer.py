"""What a target's remote command printed, turned into its host report.

Python JSON (validated against the model's field types) or the shell branch's records (replayed
through the drivers here); anything else is the host's ``probe_failed``. Every text a target sent
is made printable before a terminal sees it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace

from flockops.agent.chain import collect_host
from flockops.agent.codec import host_from_dict
from flockops.agent.driver import Driver
from flockops.agent.fields import clean_gpu, printable, type_problems
from flockops.agent.model import DriverAttempt, HostError, HostReport, Outcome
from flockops.errors import ErrorKind, ParseError

from .command import JSON_MARKER
from .settings import Target
from .shell import SHELL_MARKER


def failed_report(target: Target, kind: ErrorKind, message: str, source: str = "ssh") -> HostReport:
    """A host without GPU data. Printable: the inventory's names and a server's banner in ``message``
    reach terminals too."""
    report: HostReport = printable(HostReport(host=target.name, address=target.address,
                                              errors=(HostError(kind, source, message),), collected_at=time.time()))
    return report


def interpret(output: str, stderr: str, target: Target, remote_only: Sequence[Driver],
              returncode: int | None = None) -> HostReport:
    """Turn the remote command's output into a host report (Python JSON or shell replay), its text
    made printable (a target's escape sequences must not reach the operator's terminal).

    ``remote_only``: third-party drivers that could not travel (not pure Python).
    """
    report: HostReport = printable(_interpret(output, stderr, target, remote_only, returncode))
    return report


def _interpret(output: str, stderr: str, target: Target, remote_only: Sequence[Driver],
               returncode: int | None) -> HostReport:
    marker, _, rest = output.partition("\n")
    notes = tuple(DriverAttempt(d.name, d.vendor, Outcome.SKIPPED, "ran on the controller only: not pure Python, "
                                "so it cannot travel with the probe", d.priority) for d in remote_only)
    if marker.strip() == JSON_MARKER:
        try:
            report = parse_python_output(rest, target.name)
        except ParseError as exc:
            detail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
            return failed_report(target, ErrorKind.PROBE_FAILED, f"{exc}{'; stderr: ' + detail if detail else ''}",
                                 "probe")
        return replace(report, address=target.address, drivers=report.drivers + notes, collected_at=time.time())
    if marker.strip() == SHELL_MARKER:
        from .replay import parse_shell_output, shell_drivers

        ctx = parse_shell_output(rest)
        if ctx.empty:
            return failed_report(target, ErrorKind.PROBE_FAILED, f"no usable python3 (3.10+), no GPU tool "
                                 f"({', '.join(sorted(ctx.missing_tools))}) and no GPU in sysfs on the target", "probe")
        report = collect_host(shell_drivers(), ctx, host=target.name)
        no_python = DriverAttempt("nvml", "nvidia", Outcome.UNAVAILABLE, "no python3 3.10+ on the target (shell probe)",
                                  10)
        return replace(report, address=target.address, drivers=(no_python, *report.drivers, *notes))
    if not output.strip():  # ansible_python_interpreter=/bin/false, or an interpreter that dies at once
        status = f" and exited with status {returncode}" if returncode else ""
        python = f"the interpreter {target.python!r}" if target.python else "the target's python3"
        said = stderr.strip().splitlines()[-1][:200] if stderr.strip() else ""
        return failed_report(target, ErrorKind.PROBE_FAILED, f"the probe printed nothing{status}: is {python} a "
                             "Python 3.10 or newer? (set ansible_python_interpreter)"
                             + (f"; stderr: {said}" if said else ""), "probe")
    shown = output.strip()[:200]
    return failed_report(target, ErrorKind.PROBE_FAILED, f"the probe printed something unexpected: {shown!r}", "probe")


# The most GPUs one host's report may list (the largest single systems hold a few hundred).
MAX_GPUS = 1024


def parse_python_output(text: str, host: str) -> HostReport:
    """The Python probe's JSON host report, validated."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):  # RecursionError: nested deeper than json can follow
        raise ParseError("the probe did not print a JSON report", text.strip()[-300:]) from None
    if not isinstance(data, dict) or not isinstance(data.get("gpus"), list):
        raise ParseError("the probe's JSON is not a host report", text.strip()[:300])
    if len(data["gpus"]) > MAX_GPUS:
        # Checked before anything is built from it: a report of tens of thousands of GPUs would take
        # the controller's memory, and its time past the host's deadline, to check and render.
        raise ParseError(f"answer too large: the probe's report lists {len(data['gpus']):,} GPUs; more than "
                         f"{MAX_GPUS:,} on one host is no GPU host")
    data["host"] = host
    try:
        report = host_from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ParseError(f"the probe's JSON does not fit the model ({exc})", text.strip()[:300]) from None
    problems = type_problems(report)
    if problems:
        raise ParseError(f"the probe's JSON does not fit the model: {'; '.join(problems[:3])}", text.strip()[:300])
    # Values no GPU can have are unknown, as from a local driver: the target's probe did the same,
    # unless it is not ours.
    return replace(report, gpus=tuple(clean_gpu(g, "the probe") for g in report.gpus))
