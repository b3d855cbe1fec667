"""``flockops watch``: the report table, refreshed in place (:mod:`flockops.watch`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from flockops.errors import UsageError

from . import messages
from .collection import collection
from .exit_codes import ExitCode
from .history import open_history

if TYPE_CHECKING:
    from flockops.agent.model import FleetReport


def watch(args: argparse.Namespace) -> int:
    from flockops.render.watch import watch_table
    from flockops.watch.loop import Tick, run
    from flockops.watch.screen import Screen, header

    from .terminal import table_width

    history = open_history(args)
    pool = None
    if args.inventory:
        from flockops.remote.pool import ConnectionPool

        pool = ConnectionPool()
    chosen = collection(args, pool)
    tty = sys.stdout.isatty()
    screen = Screen(sys.stdout, tty)
    if tty:
        messages.hold()

    def show(tick: Tick) -> None:
        held = "".join(f"\nflockops: warning: {w}" for w in messages.held()[-5:])
        screen.show(header(tick, args.interval, args.count, tty) + "\n\n"
                    + watch_table(tick.views, summary=args.summary, verbose=args.verbose,
                                  width=table_width(args)) + held)  # asked each frame: a terminal resizes

    def record(fleet: FleetReport) -> None:
        assert history is not None
        try:
            history.record(fleet, retention_s=args.retention_s)
        except UsageError as exc:  # a locked or full disk must not end the watch: say so, go on
            messages.warn(str(exc))

    def timing(tick: Tick) -> None:
        print(f"flockops watch: refresh {tick.number}: {tick.wall_s:.3f} s wall, {tick.cpu_s:.3f} s cpu, "
              f"{len(tick.views)} hosts ({tick.stale} stale), {tick.opened} connections opened",
              file=sys.stderr, flush=True)

    try:
        run(chosen.collect, show, interval_s=args.interval,
            count=args.count, record=record if history is not None else None,
            timing=timing if args.timing else None, opened=(lambda: pool.opened) if pool is not None else lambda: 0)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch ends
    finally:
        screen.close()
        messages.release()
        if pool is not None:
            pool.close()
        if history is not None:
            history.close()
    return ExitCode.OK
