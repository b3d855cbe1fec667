"""The command line: parse, call, render, exit. Thin on purpose.

Imports are lazy: ``flockops report -o json`` never loads tabulate or paramiko.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from . import __version__
from .errors import FlockopsError, UsageError

if TYPE_CHECKING:
    from .plugins import DriverRegistry


class ExitCode(enum.IntEnum):
    OK = 0
    USAGE = 1  # a usage or inventory error; nothing was collected
    HOST_FAILED = 2  # some host (or this machine) could not be reported
    INTERNAL = 3  # a bug in flockops; the message asks for a report
    HOST_UNREACHABLE = 4  # some host could not be reached


EXIT_CODES_HELP = """exit codes:
  0  every host reported (some GPUs or fields may still read N/A; see the report)
  1  usage or inventory error: nothing was collected
  2  some host failed to report
  3  internal error in flockops (please report it, with FLOCKOPS_DEBUG=1 output)
  4  some host was unreachable
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on usage errors; ours is 1 (2 means a host failed).
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="flockops",
        description="Where the GPU memory is and whether a GPU runs hot, on this machine or a fleet.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"flockops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    report = sub.add_parser(
        "report", help="per-GPU VRAM, utilisation, temperature and throttle report",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("-o", "--output", choices=("table", "json"), default="table",
                        help="output format (default: table)")
    report.add_argument("--driver", action="append", metavar="NAME",
                        help="use only this driver (repeatable); see `flockops drivers`")
    report.add_argument("-v", "--verbose", action="store_true", help="list every driver attempt")

    drivers = sub.add_parser("drivers", help="each driver, its vendor and priority, and whether it can run here",
                             epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    drivers.add_argument("-o", "--output", choices=("table", "json"), default="table")

    plugins = sub.add_parser("plugins", help="installed plugins with their versions and hooks",
                             epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    plugins.add_argument("-o", "--output", choices=("table", "json"), default="table")
    return parser


def _warn(message: str) -> None:
    print(f"flockops: warning: {message}", file=sys.stderr)


def _registry() -> DriverRegistry:
    from .plugins import get_plugin_manager, load_drivers

    registry = load_drivers(get_plugin_manager())
    for plugin, reason in registry.failures:
        _warn(f"plugin {plugin} skipped: {reason}")
    return registry


def _cmd_report(args: argparse.Namespace) -> int:
    from .collect import collect_host
    from .driver import Context
    from .model import FleetReport

    registry = _registry()
    if args.driver:
        known = {d.name for d in registry.drivers}
        unknown = sorted(set(args.driver) - known)
        if unknown:
            raise UsageError(f"unknown driver {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    host = collect_host(registry.drivers, Context.local(), selected=args.driver)
    fleet = FleetReport(hosts=(host,), generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    if args.output == "json":
        from .render import to_json

        sys.stdout.write(to_json(fleet))
    else:
        from .render import fleet_table

        sys.stdout.write(fleet_table(fleet, verbose=args.verbose))
    statuses = {h.status for h in fleet.hosts}
    if "unreachable" in statuses:
        return ExitCode.HOST_UNREACHABLE
    if "failed" in statuses:
        return ExitCode.HOST_FAILED
    return ExitCode.OK


def _cmd_drivers(args: argparse.Namespace) -> int:
    from .collect import probe_drivers
    from .driver import Context

    results = probe_drivers(_registry().drivers, Context.local())
    if args.output == "json":
        rows = [{"name": d.name, "vendor": d.vendor, "priority": d.priority, "available": reason is None,
                 "reason": reason} for d, reason in results]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return ExitCode.OK
    from .render import simple_table

    sys.stdout.write(simple_table(
        [[d.name, d.vendor, d.priority, "yes" if reason is None else "no", reason or ""] for d, reason in results],
        ["Driver", "Vendor", "Priority", "Available", "Why not"],
    ))
    return ExitCode.OK


def _cmd_plugins(args: argparse.Namespace) -> int:
    from .plugins import get_plugin_manager

    info = get_plugin_manager().info
    if args.output == "json":
        rows = [{"name": p.name, "version": p.version, "hooks": list(p.hooks), "builtin": p.builtin,
                 "error": p.error} for p in info]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return ExitCode.OK
    from .render import simple_table

    sys.stdout.write(simple_table(
        [[p.name, p.version, ", ".join(p.hooks), "built-in" if p.builtin else "entry point", p.error or ""]
         for p in info],
        ["Plugin", "Version", "Hooks", "From", "Error"],
    ))
    return ExitCode.OK


COMMANDS = {"report": _cmd_report, "drivers": _cmd_drivers, "plugins": _cmd_plugins}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        return int(COMMANDS[args.command](args))
    except UsageError as exc:
        print(f"flockops: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except FlockopsError as exc:
        print(f"flockops: error: {exc}", file=sys.stderr)
        return ExitCode.HOST_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `flockops report | head`: the reader left; not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except Exception as exc:
        if os.environ.get("FLOCKOPS_DEBUG"):
            raise
        print(f"flockops: internal error: {type(exc).__name__}: {exc} "
              "(rerun with FLOCKOPS_DEBUG=1 for a traceback, and please report it)", file=sys.stderr)
        return ExitCode.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
