"""``flockops inventory``, ``drivers`` and ``plugins``: what flockops would read, run and load."""

from __future__ import annotations

import argparse
import sys

from flockops import api
from flockops.agent.fields import printable

from .exit_codes import ExitCode
from .messages import warn


def inventory(args: argparse.Namespace) -> int:
    import json

    inventory = api.load_sources(args.inventory, warn)
    for pattern in inventory.unmatched(args.limit):
        warn(f"-l {args.limit}: {pattern!r} matches no host or group")
    if args.list:
        sys.stdout.write(json.dumps(inventory.to_list_json(limit=args.limit), indent=4, sort_keys=True) + "\n")
    else:
        # Names in an inventory are anyone's text: no escape sequence reaches the terminal.
        sys.stdout.write(printable(inventory.to_graph(limit=args.limit, show_vars=args.vars)) + "\n")
    return ExitCode.OK


def drivers(args: argparse.Namespace) -> int:
    from flockops.agent.chain import probe_drivers
    from flockops.agent.driver import Context

    results = probe_drivers(api.prepare(warn=warn).drivers, Context.local())
    if args.output == "json":
        import json

        rows = [{"name": d.name, "vendor": d.vendor, "priority": d.priority, "available": reason is None,
                 "reason": reason} for d, reason in results]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return ExitCode.OK
    from flockops.render.table import simple_table

    sys.stdout.write(simple_table(
        [[d.name, d.vendor, d.priority, "yes" if reason is None else "no", reason or ""] for d, reason in results],
        ["Driver", "Vendor", "Priority", "Available", "Why not"],
    ))
    return ExitCode.OK


def plugins(args: argparse.Namespace) -> int:
    from flockops.plugins.manager import get_plugin_manager

    info = get_plugin_manager().info
    if args.output == "json":
        import json

        rows = [{"name": p.name, "version": p.version, "hooks": list(p.hooks), "builtin": p.builtin,
                 "error": p.error} for p in info]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return ExitCode.OK
    from flockops.render.table import simple_table

    sys.stdout.write(simple_table(
        [[p.name, p.version, ", ".join(p.hooks), "built-in" if p.builtin else "entry point", p.error or ""]
         for p in info],
        ["Plugin", "Version", "Hooks", "From", "Error"],
    ))
    return ExitCode.OK
