"""The command line: parse, call, render, exit. Thin on purpose.

Imports are lazy: ``flockops report -o json`` never loads tabulate or paramiko.
"""

from __future__ import annotations

import argparse
import enum
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from flockops import __version__
from flockops.errors import FlockopsError, InventoryError, UsageError

if TYPE_CHECKING:
    from flockops.agent.driver import Driver
    from flockops.agent.model import FleetReport
    from flockops.check.rules import Thresholds
    from flockops.history.store import History
    from flockops.inventory.model import Inventory
    from flockops.ollama.client import OllamaOptions
    from flockops.plugins.manager import DriverRegistry
    from flockops.remote.pool import ConnectionPool


# `flockops check` speaks the monitoring-plugin codes (flockops.check.rules.State); its UNKNOWN is
# needed before that module is worth importing (usage errors), so it is spelt here once.
CHECK_UNKNOWN = 3


class ExitCode(enum.IntEnum):
    OK = 0
    USAGE = 1  # a usage or inventory error; nothing was collected
    HOST_FAILED = 2  # some host (or this machine) could not be reported
    INTERNAL = 3  # a bug in flockops; the message asks for a report
    HOST_UNREACHABLE = 4  # some host could not be reached
    NO_FIT = 5  # flockops fit: nothing can hold the size asked for


EXIT_CODES_HELP = """exit codes:
  0  every host reported (some GPUs or fields may still read N/A; see the report)
  1  usage or inventory error: nothing was collected
  2  some host failed to report (timeout, authentication, host key, probe)
  3  internal error in flockops (please report it, with FLOCKOPS_DEBUG=1 output)
  4  some host was unreachable, and none failed otherwise
  5  flockops fit: no GPU or node can hold SIZE now (fit exits 0 when one can, even if some host failed)
"""


CHECK_HELP = """Checks every GPU's temperature, throttle reasons and (optionally) free VRAM, on this machine
or the inventory's hosts, and prints one Nagios/Icinga plugin result.

temperature: relative to each GPU's own slowdown limit when the driver knows it (NVML; AMD's
critical limit): CRITICAL at slowdown - 2 °C, WARNING at slowdown - 7 °C. With no known limit:
WARNING at 80 °C, CRITICAL at 87 °C. --warn-temp/--crit-temp, or the inventory variables
flockops_warn_temp/flockops_crit_temp, set absolute limits (the command line wins).
throttling: sw_thermal_slowdown or hw_thermal_slowdown is CRITICAL; hw_slowdown and
hw_power_brake_slowdown WARNING; sw_power_cap is reported, not alerted; gpu_idle,
applications_clocks_setting, display_clock_setting and sync_boost never alert. AMD throttle
status is advisory only (some parts report it at idle).
A lost GPU is CRITICAL; an Ollama model spilled to CPU on a GPU host is WARNING. A value the GPU
cannot report, or a host that cannot be reached, is UNKNOWN (--unreachable critical makes
unreachable hosts CRITICAL)."""

CHECK_EXIT_HELP = """exit codes (the worst item wins; CRITICAL above UNKNOWN above WARNING):
  0  OK
  1  WARNING
  2  CRITICAL
  3  UNKNOWN: a value or host could not be read, a usage error, the lock was held, or the
     deadline passed
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on usage errors; ours is 1 (2 means a host failed).
        self.print_usage(sys.stderr)
        code = getattr(self, "usage_exit", ExitCode.USAGE)
        if code == CHECK_UNKNOWN:
            _check_status_line(f"usage error: {message}")
        self.exit(code, f"{self.prog}: error: {message}\n")


def _check_status_line(text: str) -> None:
    """What a monitoring system shows for a check that could not run: one status line on stdout
    (Nagios reads stdout only, and would show "(No output)")."""
    print(f"FLOCKOPS UNKNOWN - {' '.join(text.split())}", flush=True)


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
    report.add_argument("-o", "--output", choices=("table", "json", "prometheus", "csv"), default="table",
                        help="output format (default: table); csv has one row per GPU")
    report.add_argument("--textfile", metavar="DIR", type=_writable_dir,
                        help="also write DIR/flockops.prom atomically, for node_exporter's textfile collector")
    report.add_argument("--driver", action="append", metavar="NAME",
                        help="use only this driver (repeatable); see `flockops drivers`")
    report.add_argument("-v", "--verbose", action="store_true", help="list every driver attempt")
    _fleet_arguments(report)
    _ollama_arguments(report, infer=True)
    report.add_argument("--summary", action="store_true", help="one line per host instead of a section per host")
    _record_arguments(report)  # issue 7

    check = sub.add_parser(
        "check", help="temperature and throttle check for cron and monitoring (Nagios/Icinga, Prometheus)",
        description=CHECK_HELP, epilog=CHECK_EXIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.usage_exit = CHECK_UNKNOWN  # type: ignore[attr-defined]  # a plugin's usage error is UNKNOWN
    check.add_argument("-o", "--output", choices=("nagios", "prometheus", "json"), default="nagios",
                       help="output format (default: nagios)")
    check.add_argument("--driver", action="append", metavar="NAME", help="use only this driver (repeatable)")
    check.add_argument("--warn-temp", type=_temperature, metavar="C", help="absolute warning temperature, °C")
    check.add_argument("--crit-temp", type=_temperature, metavar="C", help="absolute critical temperature, °C")
    check.add_argument("--min-free-vram", metavar="SIZE|PCT", help="WARNING when a GPU has less free VRAM "
                       "(e.g. 8GiB or 10%%)")
    check.add_argument("--unreachable", choices=("unknown", "critical"), default="unknown",
                       help="state of a host that cannot be reached (default: unknown)")
    check.add_argument("--quiet", action="store_true", help="print nothing when everything is OK (for cron)")
    check.add_argument("--lock", metavar="FILE", help="hold an flock on FILE; a run that finds it held exits "
                       "UNKNOWN at once instead of overlapping")
    check.add_argument("--deadline", type=_positive(float), metavar="SECONDS",
                       help="bound the whole run; past it, UNKNOWN")
    check.add_argument("--consecutive", type=_positive(int), default=1, metavar="N",
                       help="alert only after N breaches in a row (state kept in --state-file)")
    check.add_argument("--state-file", metavar="PATH",
                       help="where --consecutive and --notify remember the last runs "
                       "(default: $XDG_STATE_HOME/flockops/check-state.json)")
    check.add_argument("--notify", metavar="URL", type=_notify_url,
                       help="POST a JSON message to URL when a GPU's state changes")
    check.add_argument("--textfile", metavar="DIR", type=_writable_dir, help="also write DIR/flockops.prom atomically")
    _fleet_arguments(check)
    _ollama_arguments(check, infer=False)

    # --- Ollama (issue 5): capacity planning ---
    fit = sub.add_parser(
        "fit", help="which GPUs and nodes can hold a model of SIZE now, best first",
        description="List the GPUs and nodes whose free VRAM (from the device, not Ollama) can hold SIZE\n"
        "plus a margin now, best first: one GPU before a split over a node's GPUs, then the most\n"
        "headroom, then the cooler GPU. Lost, thermally throttling (sw/hw_thermal_slowdown) and MIG\n"
        "GPUs are skipped; nodes known only by an Ollama URL cannot tell their free VRAM and are\n"
        "listed as skipped.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fit.add_argument("size", metavar="SIZE",
                     help="40GiB, 40GB (decimal), 512MiB, a byte count, or an Ollama model name whose size "
                     "/api/tags knows (the file size: loading takes more, hence the margin)")
    fit.add_argument("--margin", metavar="SIZE|PCT",
                     help="kept free beyond SIZE: 2GiB or 15%% (default: 10%% of SIZE, at least 1 GiB)")
    fit.add_argument("-o", "--output", choices=("table", "json"), default="table")
    _fleet_arguments(fit)
    _ollama_arguments(fit, infer=False)

    _watch_history_parsers(sub)  # issue 7

    inventory = sub.add_parser("inventory", help="show an inventory as flockops reads it (like ansible-inventory)",
                               epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    inventory.add_argument("-i", "--inventory", required=True, action=_Sources, metavar="FILE",
                           help="Ansible inventory (YAML or INI file, or a directory); may be repeated")
    inventory.add_argument("-l", "--limit", metavar="PATTERN", help="only hosts matching PATTERN")
    shown = inventory.add_mutually_exclusive_group(required=True)
    shown.add_argument("--list", action="store_true", help="JSON as `ansible-inventory --list` prints it")
    shown.add_argument("--graph", action="store_true", help="the group tree")
    inventory.add_argument("--vars", action="store_true", help="with --graph: show variables")

    drivers = sub.add_parser("drivers", help="each driver, its vendor and priority, and whether it can run here",
                             epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    drivers.add_argument("-o", "--output", choices=("table", "json"), default="table")

    plugins = sub.add_parser("plugins", help="installed plugins with their versions and hooks",
                             epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    plugins.add_argument("-o", "--output", choices=("table", "json"), default="table")
    return parser


MAX_NUMBER = 10_000_000  # seconds (115 days), hosts, runs: more is a typo


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0 or value == float("inf"):  # also refuses nan and inf, which float() reads
            raise argparse.ArgumentTypeError(f"must be a finite number more than 0: {text!r}")
        if value > MAX_NUMBER:  # a deadline past what a timer can hold (about 9e9 s) failed every host
            raise argparse.ArgumentTypeError(f"must be at most {MAX_NUMBER:,}: {text!r}")
        return value

    return parse


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a temperature in °C: {text!r}") from None
    if not -273.15 <= value < 1000:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"not a temperature a GPU can have, in °C: {text!r}")
    return value


def _notify_url(text: str) -> str:
    from urllib.parse import urlsplit

    from flockops.check.notify import shown_url

    try:
        parts = urlsplit(text)
        hostname = parts.hostname
    except ValueError:  # "[" without its "]": never echo the text, it may hold a token
        hostname = None
    if not hostname or parts.scheme not in ("http", "https"):
        raise argparse.ArgumentTypeError(f"not an http:// or https:// URL: {shown_url(text)!r}")
    return text


class _Sources(argparse.Action):
    """-i, given once or more (as with ansible: ``-i prod.ini -i lab.yml`` is one inventory of both)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        if not str(values).strip():
            parser.error(f"{option_string} was given an empty path (an unset variable?)")
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or ()), str(values)])


def _writable_dir(text: str) -> str:
    # Checked before any host is asked: a typo must not cost a whole collection first.
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"no such directory: {text!r}")
    if not os.access(text, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {text!r}")
    return text


def _known_hosts_file(text: str) -> str:
    from pathlib import Path

    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    return text


def _fleet_arguments(parser: argparse.ArgumentParser, default_timeout: float = 30.0) -> None:
    group = parser.add_argument_group("fleet (over SSH; without -i: this machine)")
    group.add_argument("-i", "--inventory", action=_Sources, metavar="FILE",
                       help="Ansible inventory (YAML or INI file, or a directory); may be repeated")
    group.add_argument("-l", "--limit", metavar="PATTERN",
                       help="hosts to ask: a,b or a:b union, a:&b intersection, a:!b exclusion, globs, ~regex")
    group.add_argument("-f", "--forks", type=_positive(int), default=10, help="hosts probed at once (default 10)")
    group.add_argument("--timeout", type=_positive(float), default=default_timeout, metavar="SECONDS",
                       help=f"deadline per host, connection and probe together (default {default_timeout:g})")
    group.add_argument("--known-hosts", action="append", default=[], metavar="FILE", type=_known_hosts_file,
                       help="extra known_hosts file (repeatable); ~/.ssh/known_hosts and "
                       "/etc/ssh/ssh_known_hosts are always read")


def _ollama_arguments(parser: argparse.ArgumentParser, infer: bool) -> None:
    """--- Ollama (issue 5) ---"""
    group = parser.add_argument_group("Ollama (asked over HTTP from this machine; inventory hosts: "
                                      "ollama_url or ollama: true)")
    group.add_argument("--ollama", action="append", default=[], metavar="URL",
                       help="an Ollama server known only by URL, no SSH (repeatable); listed as a host named by "
                       "its URL")
    group.add_argument("--no-ollama", action="store_true",
                       help="without -i: do not ask this machine's Ollama (OLLAMA_HOST, else 127.0.0.1:11434)")
    group.add_argument("--ollama-timeouts", type=_timeouts, default=(1.0, 3.0), metavar="CONNECT,READ",
                       help="seconds to connect and to wait for each answer (default 1,3)")
    if not infer:
        return
    group.add_argument("--infer", action="store_true",
                       help="time embeddings on each Ollama that answers: a labelled guess (gpu-likely, "
                       "cpu-likely, unknown), never a VRAM size; loads --infer-model there")
    group.add_argument("--infer-model", default="all-minilm", metavar="NAME",
                       help="small embedding model for --infer, pulled on the server (default all-minilm)")
    group.add_argument("--infer-runs", type=_positive(int), default=5, metavar="N",
                       help="timed embeddings after one warm-up (default 5)")


def _timeouts(text: str) -> tuple[float, float]:
    connect, _, read = text.partition(",")
    parse = _positive(float)
    try:
        return parse(connect), parse(read or connect)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; expected CONNECT,READ seconds such as 1,3") from None


def _ollama_options(args: argparse.Namespace) -> OllamaOptions:
    from flockops.ollama.client import OllamaOptions

    connect, read = args.ollama_timeouts
    return OllamaOptions(connect_timeout_s=connect, read_timeout_s=read, infer=getattr(args, "infer", False),
                         infer_model=getattr(args, "infer_model", "all-minilm"),
                         infer_runs=int(getattr(args, "infer_runs", 5)))


# While watch draws frames on a terminal, a warning on stderr would be wiped by the next frame: such
# warnings are held here, shown under each frame, and printed again when the watch ends.
_held_warnings: list[str] | None = None


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    """For what every refresh of watch would say again."""
    if message not in _warned:
        _warned.add(message)
        _warn(message)


def _warn(message: str) -> None:
    if _held_warnings is not None:
        if message not in _held_warnings:
            _held_warnings.append(message)
        return
    print(f"flockops: warning: {message}", file=sys.stderr)


def _registry() -> DriverRegistry:
    from flockops.plugins.manager import get_plugin_manager, load_drivers

    registry = load_drivers(get_plugin_manager())
    for plugin, reason in registry.failures:
        _warn(f"plugin {plugin} skipped: {reason}")
    return registry


def _cmd_report(args: argparse.Namespace) -> int:
    registry = _registry()
    if args.driver:
        known = {d.name for d in registry.drivers}
        unknown = sorted(set(args.driver) - known)
        if unknown:
            raise UsageError(f"unknown driver {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    history = _open_history(args)  # issue 7: --record; a bad --db fails before any host is asked
    fleet = _collect_fleet(args, registry.drivers)
    if args.output == "json":
        from flockops.render.report import to_json

        sys.stdout.write(to_json(fleet))
    elif args.output == "csv":
        from flockops.render.report import to_csv

        sys.stdout.write(to_csv(fleet))
    elif args.output == "prometheus":
        from flockops.render.prometheus import fleet_metrics

        sys.stdout.write(fleet_metrics(fleet).text())
    else:
        from flockops.render.report import fleet_table

        sys.stdout.write(fleet_table(fleet, verbose=args.verbose, summary=args.summary))
    if args.textfile:
        from flockops.render.prometheus import fleet_metrics

        _write_textfile(args.textfile, fleet_metrics(fleet).text())
    if history is not None:
        with history:
            history.record(fleet, retention_s=args.retention_s)
    statuses = {h.status for h in fleet.hosts}
    if "failed" in statuses:
        return ExitCode.HOST_FAILED
    if "unreachable" in statuses:
        return ExitCode.HOST_UNREACHABLE
    return ExitCode.OK


def _load_inventory(args: argparse.Namespace) -> Inventory:
    from pathlib import Path

    from flockops.inventory.loader import load_inventory

    inventory = load_inventory([Path(source) for source in args.inventory])
    for warning in inventory.warnings:
        _warn(warning)
    return inventory


def _write_textfile(directory: str, text: str) -> None:
    from flockops.render.prometheus import write_textfile

    try:
        write_textfile(directory, text)
    except OSError as exc:
        raise UsageError(f"cannot write {directory}/flockops.prom: {exc.strerror or exc}") from None


def _collect_fleet(args: argparse.Namespace, drivers: Sequence[Driver],
                   inventory: Inventory | None = None, pool: ConnectionPool | None = None) -> FleetReport:
    """This machine (no -i) or the inventory's hosts, with Ollama asked beside them (flockops.api.gather)."""
    from flockops.api import gather

    selected = tuple(args.driver) if getattr(args, "driver", None) else None
    if not args.inventory:
        if args.limit:
            raise UsageError("-l/--limit chooses among an inventory's hosts: give -i FILE too")
        return gather(None, drivers, selected_drivers=selected, ollama_urls=args.ollama,
                      local_ollama=not args.no_ollama, ollama_options=_ollama_options(args))
    from pathlib import Path

    from flockops.remote.fleet import FleetOptions
    from flockops.remote.settings import SshOptions, env_host_key_checking, target_for

    env_host_key_checking(os.environ)  # a word that is neither true nor false is refused up front
    inventory = inventory or _load_inventory(args)
    hosts = inventory.select(args.limit)
    for pattern in inventory.unmatched(args.limit):  # as ansible warns: a typo must not pass unseen
        _warn_once(f"-l {args.limit}: {pattern!r} matches no host or group")
    if not hosts:
        raise UsageError(f"no host in {', '.join(args.inventory)} matches {args.limit or 'all'}")
    options = FleetOptions(forks=int(args.forks), timeout_s=float(args.timeout), selected_drivers=selected, pool=pool,
                           ssh=SshOptions(connect_timeout_s=min(10.0, float(args.timeout)),
                                          known_hosts_files=tuple(Path(p) for p in args.known_hosts), warn=_warn))
    return gather([target_for(h) for h in hosts], drivers, fleet_options=options, ollama_urls=args.ollama,
                  ollama_options=_ollama_options(args))


def _check_thresholds(args: argparse.Namespace) -> Thresholds:
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
                      unreachable=State.CRITICAL if args.unreachable == "critical" else State.UNKNOWN)


def _cmd_check(args: argparse.Namespace) -> int:
    import contextlib
    from pathlib import Path

    from flockops.check.run import CheckRequest, DeadlineExceeded, deadline, host_timeout, run, run_lock

    request = CheckRequest(thresholds=_check_thresholds(args), output=args.output, quiet=args.quiet,
                           consecutive=int(args.consecutive), notify_url=args.notify,
                           state_file=Path(args.state_file) if args.state_file else None,
                           textfile_dir=args.textfile)
    lock = run_lock(Path(args.lock)) if args.lock else contextlib.nullcontext(True)
    with lock as acquired:
        if not acquired:
            sys.stdout.write(f"FLOCKOPS UNKNOWN - another flockops check holds {args.lock}; this run skipped\n")
            return CHECK_UNKNOWN
        args.timeout = host_timeout(args.timeout, args.deadline)
        try:
            with deadline(args.deadline):
                result = run(request, lambda: _collect_check_fleet(args), _warn)
                if result.prometheus is not None and args.textfile:
                    _write_textfile(args.textfile, result.prometheus)
        except DeadlineExceeded:
            sys.stdout.write(f"FLOCKOPS UNKNOWN - the check did not finish within its {args.deadline:g} s deadline\n")
            return CHECK_UNKNOWN
    sys.stdout.write(result.stdout)
    return int(result.state)


def _collect_check_fleet(args: argparse.Namespace) -> tuple[FleetReport, dict[str, Any]]:
    registry = _registry()
    inventory = _load_inventory(args) if args.inventory else None
    fleet = _collect_fleet(args, registry.drivers, inventory)
    return fleet, ({h.name: h.vars for h in inventory.hosts} if inventory else {})


def _cmd_fit(args: argparse.Namespace) -> int:
    """--- Ollama (issue 5): which GPUs and nodes can hold SIZE now. ---"""
    from flockops.ollama.capacity import parse_margin, parse_size, plan

    try:
        size = parse_size(args.size)
        margin = None if args.margin is None else parse_margin(args.margin, size or 0)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    fleet = _collect_fleet(args, _registry().drivers)
    model = None
    if size is None:
        model, size = _model_size(args.size, fleet, _ollama_options(args))
        if args.margin is not None:
            margin = parse_margin(args.margin, size)
    result = plan(fleet, size, margin, model=model)
    if args.output == "json":
        import json

        from flockops.ollama.capacity import fit_to_dict

        sys.stdout.write(json.dumps(fit_to_dict(result), indent=2) + "\n")
    else:
        from flockops.render.fit import fit_table

        sys.stdout.write(fit_table(result))
    return ExitCode.OK if result.candidates else ExitCode.NO_FIT


def _model_size(name: str, fleet: FleetReport, options: OllamaOptions) -> tuple[str, int]:
    """A model's size from the /api/tags of the first Ollama in the report that knows it."""
    from flockops.ollama.query import find_model, model_sizes

    urls = [h.ollama.url for h in fleet.hosts if h.ollama is not None and h.ollama.status == "ok"]
    if not urls:
        raise UsageError(f"{name!r} is not a size (such as 40GiB), and no Ollama answered to look it up")
    for url in urls:
        found = find_model(model_sizes(url, options), name)
        if found is not None:
            return found
    raise UsageError(f"no Ollama knows a model named {name!r} (asked /api/tags of {', '.join(urls)})")


def _cmd_inventory(args: argparse.Namespace) -> int:
    import json

    inventory = _load_inventory(args)
    for pattern in inventory.unmatched(args.limit):
        _warn(f"-l {args.limit}: {pattern!r} matches no host or group")
    if args.list:
        sys.stdout.write(json.dumps(inventory.to_list_json(limit=args.limit), indent=4, sort_keys=True) + "\n")
    else:
        sys.stdout.write(inventory.to_graph(limit=args.limit, show_vars=args.vars) + "\n")
    return ExitCode.OK


def _cmd_drivers(args: argparse.Namespace) -> int:
    from flockops.agent.chain import probe_drivers
    from flockops.agent.driver import Context

    results = probe_drivers(_registry().drivers, Context.local())
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


def _cmd_plugins(args: argparse.Namespace) -> int:
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


# --------------------------------------------------------------------------------------------------
# watch, --record and history (issue 7). history, sqlite3 and matplotlib load only when asked for.

WATCH_HELP = """Shows the report table, refreshed every -n seconds, drawn in place on a terminal (one table
per refresh, a blank line between, when stdout is not a terminal). Each host shows the age of its
data; a host that stops answering keeps its last good data, marked STALE with its age. SSH
connections stay open between refreshes; a dropped one is opened again. Ctrl-C ends it (exit 0)."""

WATCH_EXIT_HELP = """exit codes:
  0  ended by Ctrl-C or after --count refreshes (hosts that failed are shown, not an exit code)
  1  usage or inventory error
"""

HISTORY_HELP = """Per GPU over a period, from the database that `report --record` and `watch --record` fill:
min / mean / max VRAM used and temperature, the time above the warning temperature (the one
`flockops check` warns at: the card's slowdown limit - 7 °C, or 80 °C when the card does not say),
and the time its host's Ollama had a model spilled to CPU. A sample's state holds until the next
sample, at most 15 minutes."""


def _record_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("history (--record)")
    group.add_argument("--record", action="store_true",
                       help="append every GPU sample and Ollama placement to the history database")
    group.add_argument("--db", metavar="PATH",
                       help="history database (default: $XDG_DATA_HOME/flockops/history.sqlite)")
    group.add_argument("--retention", default="30d", metavar="DURATION",
                       help="with --record: delete rows older than this, e.g. 30d, 12h (default 30d)")


def _watch_history_parsers(sub: argparse._SubParsersAction[_Parser]) -> None:
    watch = sub.add_parser("watch", help="the report table, refreshed in place; hosts that stop answering go STALE",
                           description=WATCH_HELP, epilog=WATCH_EXIT_HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    watch.add_argument("-n", "--interval", type=_positive(float), default=2.0, metavar="SECONDS",
                       help="seconds from one refresh's start to the next (default 2)")
    watch.add_argument("--count", type=_positive(int), metavar="N", help="stop after N refreshes (default: Ctrl-C)")
    watch.add_argument("--summary", action="store_true", help="one line per host instead of a section per host")
    watch.add_argument("--driver", action="append", metavar="NAME", help="use only this driver (repeatable)")
    watch.add_argument("-v", "--verbose", action="store_true", help="list every driver attempt")
    watch.add_argument("--timing", action="store_true",
                       help="after each refresh print its wall time, CPU time and SSH connections opened to stderr")
    _fleet_arguments(watch, default_timeout=10.0)
    _ollama_arguments(watch, infer=False)
    _record_arguments(watch)

    history = sub.add_parser("history", help="per-GPU VRAM and temperature over time, from recorded samples",
                             description=HISTORY_HELP, epilog=EXIT_CODES_HELP,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    history.add_argument("-l", "--limit", metavar="PATTERN", help="only hosts matching PATTERN (globs, ~regex, a:!b)")
    history.add_argument("--since", default="24h", metavar="DURATION|DATE",
                         help="from this long ago (24h, 7d) or this local date and time (default 24h)")
    history.add_argument("--db", metavar="PATH",
                         help="history database (default: $XDG_DATA_HOME/flockops/history.sqlite)")
    history.add_argument("-o", "--output", choices=("table", "json"), default="table")
    history.add_argument("--plot", metavar="FILE", help="draw VRAM and temperature over time, one row per GPU, to "
                         "FILE.png or FILE.svg (needs matplotlib: pip install 'flockops[plot]')")
    history.add_argument("--html", metavar="FILE", help="one self-contained HTML page with the table and the charts")


def _open_history(args: argparse.Namespace) -> History | None:
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


def _cmd_watch(args: argparse.Namespace) -> int:
    from flockops.render.watch import watch_table
    from flockops.watch.loop import Tick, run
    from flockops.watch.screen import Screen, header

    registry = _registry()
    unknown = sorted(set(args.driver or ()) - {d.name for d in registry.drivers})
    if unknown:
        raise UsageError(f"unknown driver {', '.join(unknown)}; see `flockops drivers`")
    history = _open_history(args)
    inventory = _load_inventory(args) if args.inventory else None
    pool = None
    if inventory is not None:
        from flockops.remote.pool import ConnectionPool

        pool = ConnectionPool()
    tty = sys.stdout.isatty()
    screen = Screen(sys.stdout, tty)
    global _held_warnings
    if tty:
        _held_warnings = []

    def show(tick: Tick) -> None:
        held = "".join(f"\nflockops: warning: {w}" for w in (_held_warnings or [])[-5:])
        screen.show(header(tick, args.interval, args.count, tty) + "\n\n"
                    + watch_table(tick.views, summary=args.summary, verbose=args.verbose) + held)

    def record(fleet: FleetReport) -> None:
        assert history is not None
        try:
            history.record(fleet, retention_s=args.retention_s)
        except UsageError as exc:  # a locked or full disk must not end the watch: say so, go on
            _warn(str(exc))

    def timing(tick: Tick) -> None:
        print(f"flockops watch: refresh {tick.number}: {tick.wall_s:.3f} s wall, {tick.cpu_s:.3f} s cpu, "
              f"{len(tick.views)} hosts ({tick.stale} stale), {tick.opened} connections opened",
              file=sys.stderr, flush=True)

    try:
        run(lambda: _collect_fleet(args, registry.drivers, inventory, pool), show, interval_s=args.interval,
            count=args.count, record=record if history is not None else None,
            timing=timing if args.timing else None, opened=(lambda: pool.opened) if pool is not None else lambda: 0)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch ends
    finally:
        screen.close()
        held, _held_warnings = _held_warnings or [], None
        for message in held:  # below the last frame, where they stay
            _warn(message)
        if pool is not None:
            pool.close()
        if history is not None:
            history.close()
    return ExitCode.OK


def _cmd_history(args: argparse.Namespace) -> int:
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
                _warn(message)
    if args.output == "json":
        import json

        sys.stdout.write(json.dumps(summary_to_dict(summaries, path, since, now), indent=2) + "\n")
    else:
        from flockops.render.history import history_heading, history_table

        sys.stdout.write(history_heading(summaries, path, since, now) + "\n")
        if summaries:
            sys.stdout.write(history_table(summaries))
    return ExitCode.OK


COMMANDS = {"report": _cmd_report, "check": _cmd_check, "fit": _cmd_fit, "inventory": _cmd_inventory,
            "drivers": _cmd_drivers, "plugins": _cmd_plugins, "watch": _cmd_watch, "history": _cmd_history}


def run() -> int:
    """The `flockops` command: :func:`main`, keeping the probe's zip between runs (flockops.code_cache)."""
    from flockops.remote import bundle_cache

    bundle_cache.enabled = True
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
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
        return int(COMMANDS[args.command](args))
    except (UsageError, InventoryError) as exc:
        print(f"flockops: error: {exc}", file=sys.stderr)
        if is_check:
            _check_status_line(str(exc))
        return CHECK_UNKNOWN if is_check else ExitCode.USAGE
    except FlockopsError as exc:
        print(f"flockops: error: {exc}", file=sys.stderr)
        if is_check:
            _check_status_line(str(exc))
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
            _check_status_line(f"internal error: {type(exc).__name__}: {exc}")
        return CHECK_UNKNOWN if is_check else ExitCode.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
