"""``flockops check``: the command's words turned into a check run (:mod:`flockops.check.run`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flockops.agent.fields import seconds
from flockops.errors import UsageError

from .collection import collection
from .exit_codes import CHECK_UNKNOWN
from .messages import warn

if TYPE_CHECKING:
    from flockops.agent.model import FleetReport
    from flockops.check.rules import Thresholds


def thresholds(args: argparse.Namespace) -> Thresholds:
    from flockops.check.rules import State, Thresholds
    from flockops.ollama.capacity import parse_size

    free_bytes = free_pct = None
    if args.min_free_vram:
        text = args.min_free_vram.strip()
        try:
            if text.endswith("%"):
                free_pct = float(text[:-1])
            else:
                free_bytes = parse_size(text)
                if free_bytes is None:
                    raise ValueError(text)
        except ValueError:
            raise UsageError(f"--min-free-vram: not a size or percentage: {text!r} (try 8GiB or 10%)") from None
        if free_pct is not None and not 0 <= free_pct <= 100:  # also nan and inf
            raise UsageError(f"--min-free-vram: a percentage is 0% to 100%, got {text!r}")
    if args.warn_temp is not None and args.crit_temp is not None and args.warn_temp >= args.crit_temp:
        raise UsageError(f"--warn-temp {args.warn_temp:g} must be below --crit-temp {args.crit_temp:g}")
    return Thresholds(warn_temp_c=args.warn_temp, crit_temp_c=args.crit_temp, min_free_vram_bytes=free_bytes,
                      min_free_vram_pct=free_pct,
                      unreachable=State.CRITICAL if args.unreachable == "critical" else State.UNKNOWN,
                      required=frozenset(args.require),
                      kv_cache_warn_pct=args.kv_cache_warn, kv_cache_runs=int(args.kv_cache_runs))


def check(args: argparse.Namespace) -> int:
    import contextlib
    from pathlib import Path

    from flockops.check.run import CheckRequest, DeadlineExceeded, host_timeout, run, run_lock

    request = CheckRequest(thresholds=thresholds(args), output=args.output, quiet=args.quiet,
                           consecutive=int(args.consecutive), notify_url=args.notify,
                           notify_budget_s=float(args.notify_timeout),
                           state_file=Path(args.state_file) if args.state_file else None,
                           textfile_dir=args.textfile, deadline_s=args.deadline)
    lock = run_lock(Path(args.lock)) if args.lock else contextlib.nullcontext(True)
    with lock as acquired:
        if not acquired:
            sys.stdout.write(f"FLOCKOPS UNKNOWN - another flockops check holds {args.lock}; this run skipped\n")
            return CHECK_UNKNOWN
        args.timeout = host_timeout(args.timeout, args.deadline)
        try:
            result = run(request, lambda: _collected(args))
        except DeadlineExceeded:
            sys.stdout.write(f"FLOCKOPS UNKNOWN - the check did not finish within its {seconds(args.deadline)} s "
                             "deadline\n")
            return CHECK_UNKNOWN
    for problem in result.problems:  # the outputs that failed; the verdict below stands
        warn(problem)
    sys.stdout.write(result.stdout)
    return result.state.exit_code


def _collected(args: argparse.Namespace) -> tuple[FleetReport, Mapping[str, Mapping[str, Any]]]:
    chosen = collection(args, progress=True)  # by hand on a terminal; from cron, stderr is no TTY
    return chosen.collect(), chosen.host_vars
