"""``flockops history``, and the database ``--record`` appends to."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from flockops.errors import UsageError

from .exit_codes import ExitCode
from .messages import warn

if TYPE_CHECKING:
    from flockops.history.store import History


def open_history(args: argparse.Namespace) -> History | None:
    """The database for --record, opened (and created) before anything is collected; None without it."""
    if not args.record:
        return None
    from pathlib import Path

    from flockops.history.periods import parse_duration
    from flockops.history.store import History, default_db_path

    try:
        args.retention_s = parse_duration(args.retention)
    except ValueError as exc:
        raise UsageError(f"--retention: {exc}") from None
    return History(Path(args.db) if args.db else default_db_path())


def history(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from flockops.history.periods import parse_since
    from flockops.history.store import History, default_db_path
    from flockops.history.summary import select_hosts, summarize, summary_to_dict

    now = time.time()
    try:
        since = parse_since(args.since, now)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.plot or args.html:
        from flockops.history.plot import check_plot_path, require_matplotlib

        require_matplotlib()
        if args.plot:
            check_plot_path(Path(args.plot))
    path = Path(args.db) if args.db else default_db_path()
    with History(path, create=False) as history:
        hosts = select_hosts(history, args.limit)
        if hosts == []:
            raise UsageError(f"no recorded host matches {args.limit!r} (recorded: {', '.join(history.hosts())})")
        summaries = summarize(history, since, now, hosts)
        if args.plot or args.html:
            from flockops.history.plot import write_html, write_plot

            series = history.gpu_series(since, now, hosts)
            spills = history.spill_polls(since, now, hosts)
            warnings = write_plot(Path(args.plot), series, since, now, spills) if args.plot else []
            if args.html:
                warnings += write_html(Path(args.html), series, summaries, since, now, spills)
            for message in dict.fromkeys(warnings):
                warn(message)
    if args.output == "json":
        import json

        sys.stdout.write(json.dumps(summary_to_dict(summaries, path, since, now), indent=2) + "\n")
    else:
        from flockops.render.columns import wrapped
        from flockops.render.history import history_heading, history_table

        from .terminal import table_width

        width = table_width(args)
        sys.stdout.write("\n".join(wrapped(history_heading(summaries, path, since, now), width)) + "\n")
        if summaries:
            sys.stdout.write(history_table(summaries, width))
    return ExitCode.OK
