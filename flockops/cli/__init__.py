"""The command line: parse, call, render, exit. Thin on purpose: each command is a module here that
turns the words into a call of the layers below (:mod:`flockops.api` to collect), prints what they
return, and picks the exit code. Every error a person can fix is translated in one place,
:func:`main`: one line on stderr, never a traceback.

Imports are lazy: ``flockops report -o json`` never loads tabulate or paramiko.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from flockops.errors import FlockopsError, InventoryError, UsageError

from .exit_codes import CHECK_UNKNOWN, ExitCode
from .messages import check_status_line
from .parser import build_parser


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    """The command's function, from its module (imported only for the command that runs)."""
    from . import check, history, listing, report, watch

    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "report": report.report, "fit": report.fit, "check": check.check, "watch": watch.watch,
        "history": history.history, "inventory": listing.inventory, "drivers": listing.drivers,
        "plugins": listing.plugins,
    }
    return commands[name]


def run() -> int:
    """The `flockops` command: :func:`main`, keeping the probe's zip between runs (flockops.remote.bundle_cache)."""
    from flockops.remote import bundle_cache

    bundle_cache.enabled = True
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    words = [w for w in (sys.argv[1:] if argv is None else argv) if not w.startswith("-")]
    if words[:1] == ["check"]:
        parser.usage_exit = CHECK_UNKNOWN  # type: ignore[attr-defined]  # even for unknown options
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    # A monitoring plugin that cannot do its job says UNKNOWN (3), whatever went wrong.
    is_check = args.command == "check"
    try:
        return int(_command(args.command)(args))
    except (UsageError, InventoryError) as exc:
        print(f"flockops: error: {exc}", file=sys.stderr)
        if is_check:
            check_status_line(str(exc))
        return CHECK_UNKNOWN if is_check else ExitCode.USAGE
    except FlockopsError as exc:
        print(f"flockops: error: {exc}", file=sys.stderr)
        if is_check:
            check_status_line(str(exc))
        return CHECK_UNKNOWN if is_check else ExitCode.HOST_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `flockops report | head`: the reader left; not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except Exception as exc:
        if os.environ.get("FLOCKOPS_DEBUG"):
            import traceback

            traceback.print_exc()  # and the same exit status as without it
        print(f"flockops: internal error: {type(exc).__name__}: {exc} "
              "(rerun with FLOCKOPS_DEBUG=1 for a traceback, and please report it)", file=sys.stderr)
        if is_check:
            check_status_line(f"internal error: {type(exc).__name__}: {exc}")
        return CHECK_UNKNOWN if is_check else ExitCode.INTERNAL
