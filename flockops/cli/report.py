"""``flockops report`` and ``flockops fit``: collect, then print the report or where a model fits."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from flockops.agent.model import HostStatus, OllamaStatus
from flockops.errors import UsageError

from .collection import collection, ollama_options, write_textfile
from .exit_codes import ExitCode
from .history import open_history
from .messages import warn
from .terminal import table_width

if TYPE_CHECKING:
    from flockops.agent.model import FleetReport
    from flockops.ollama.client import OllamaOptions


def report(args: argparse.Namespace) -> int:
    history = open_history(args)  # --record: a bad --db fails before any host is asked
    fleet = collection(args, progress=True).collect()
    if args.output == "json":
        from flockops.render.report import to_json

        sys.stdout.write(to_json(fleet))
    elif args.output == "csv":
        from flockops.render.report import to_csv

        sys.stdout.write(to_csv(fleet))
    elif args.output == "prometheus":
        from flockops.render.prometheus import fleet_metrics

        sys.stdout.write(fleet_metrics(fleet, pids=args.process_pids).text())
    else:
        from flockops.render.report import fleet_table

        sys.stdout.write(fleet_table(fleet, verbose=args.verbose, summary=args.summary, processes=args.processes,
                                     width=table_width(args)))
    # The report is printed: what follows are outputs, each of which may fail alone, said on stderr.
    failed_output = False
    if args.textfile:
        from flockops.render.prometheus import fleet_metrics

        failed_output |= not write_textfile(args.textfile, fleet_metrics(fleet, pids=args.process_pids).text())
    if history is not None:
        with history:
            try:
                history.record(fleet, retention_s=args.retention_s)
            except UsageError as exc:  # locked past its busy timeout, a full disk
                warn(str(exc))
                failed_output = True
    statuses = {h.status for h in fleet.hosts}
    if HostStatus.FAILED in statuses:
        return ExitCode.HOST_FAILED
    if HostStatus.UNREACHABLE in statuses:
        return ExitCode.HOST_UNREACHABLE
    return ExitCode.OUTPUT_FAILED if failed_output else ExitCode.OK


def fit(args: argparse.Namespace) -> int:
    """Which GPUs and nodes can hold SIZE now."""
    from flockops.ollama.capacity import parse_margin, parse_size, plan

    try:
        size = parse_size(args.size)
        margin = None if args.margin is None else parse_margin(args.margin, size or 0)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    fleet = collection(args, progress=True).collect()
    model = None
    if size is None:
        model, size = _model_size(args.size, fleet, ollama_options(args))
        if args.margin is not None:
            margin = parse_margin(args.margin, size)
    result = plan(fleet, size, margin, model=model)
    if args.output == "json":
        import json

        from flockops.ollama.capacity import fit_to_dict

        sys.stdout.write(json.dumps(fit_to_dict(result), indent=2) + "\n")
    else:
        from flockops.render.fit import fit_table

        sys.stdout.write(fit_table(result, table_width(args)))
    return ExitCode.OK if result.candidates else ExitCode.NO_FIT


def _model_size(name: str, fleet: FleetReport, options: OllamaOptions) -> tuple[str, int]:
    """A model's size from the /api/tags of the first Ollama in the report that knows it."""
    from flockops.ollama.query import find_model, model_sizes

    urls = [h.ollama.url for h in fleet.hosts if h.ollama is not None and h.ollama.status == OllamaStatus.OK]
    if not urls:
        raise UsageError(f"{name!r} is not a size (such as 40GiB), and no Ollama answered to look it up")
    for url in urls:
        found = find_model(model_sizes(url, options), name)
        if found is not None:
            return found
    raise UsageError(f"no Ollama knows a model named {name!r} (asked /api/tags of {', '.join(urls)})")
