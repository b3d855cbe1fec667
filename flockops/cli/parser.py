"""The command line's grammar: every command, its options, and their values checked as they are read."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from flockops import __version__

from .exit_codes import CHECK_UNKNOWN, EXIT_CODES_HELP, ExitCode
from .messages import check_status_line

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
A lost GPU is CRITICAL; an Ollama model spilled to CPU on a GPU host is WARNING, as is a model
on CPU for any engine that says so, and a vLLM or SGLang KV cache at or over --kv-cache-warn
for --kv-cache-runs runs in a row. A value the GPU
cannot report, or a host that cannot be reached, is UNKNOWN (--unreachable critical makes
unreachable hosts CRITICAL)."""


CHECK_EXIT_HELP = """exit codes (the worst item wins; CRITICAL above UNKNOWN above WARNING):
  0  OK
  1  WARNING
  2  CRITICAL
  3  UNKNOWN: a value or host could not be read, a usage error, the lock was held, or the
     deadline passed before the hosts answered
An output that fails (the webhook, --textfile, the state file) is a warning on stderr: once the
hosts have answered, the verdict and its exit code stand.
"""


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


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on usage errors; ours is 1 (2 means a host failed).
        self.print_usage(sys.stderr)
        code = getattr(self, "usage_exit", ExitCode.USAGE)
        if code == CHECK_UNKNOWN:
            check_status_line(f"usage error: {message}")
        self.exit(code, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="flockops",
        description="Where the GPU memory is and whether a GPU runs hot, on this machine or a fleet.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"flockops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

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
    _wide_argument(report)
    report.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line on stderr (shown on a terminal while a fleet run takes over 1 s)")
    _fleet_arguments(report)
    _ollama_arguments(report, infer=True)
    report.add_argument("--summary", action="store_true", help="one line per host instead of a section per host")
    report.add_argument("-p", "--processes", action="store_true",
                        help="list the processes holding each GPU's memory: engine, model, container or job, "
                        "user, VRAM")
    report.add_argument("--process-pids", action="store_true",
                        help="with -o prometheus or --textfile: a pid label on flockops_process_memory_used_bytes "
                        "(a new series each time a process restarts)")
    _engine_arguments(report)
    _record_arguments(report)

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
    check.add_argument("--require", action="append", choices=("temperature", "throttle"), default=[],
                       metavar="ITEM", help="UNKNOWN when a GPU cannot report ITEM: throttle (otherwise a card "
                       "that has no throttle status, as on most AMD and Intel GPUs, is said once as INFO), "
                       "temperature (otherwise UNKNOWN on discrete GPUs, INFO on integrated ones); repeatable")
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
                       help="POST a JSON message to URL when a GPU's state changes (user:password@ in the URL "
                       "is sent as basic auth); an undelivered one is sent again at the next run")
    check.add_argument("--notify-timeout", type=_positive(float), default=10.0, metavar="SECONDS",
                       help="all of a run's notifications together, within --deadline (default 10)")
    check.add_argument("--textfile", metavar="DIR", type=_writable_dir, help="also write DIR/flockops.prom atomically")
    _fleet_arguments(check)
    _ollama_arguments(check, infer=False)
    _engine_arguments(check, kv_cache=True)

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
    _wide_argument(fit)
    fit.add_argument("-o", "--output", choices=("table", "json"), default="table")
    _fleet_arguments(fit)
    _ollama_arguments(fit, infer=False)
    _engine_arguments(fit)

    _watch_history_parsers(sub)

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


def _wide_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wide", action="store_true",
                        help="every column, whole, however wide the terminal (tables fit the terminal's width, "
                        "else COLUMNS; a pipe without COLUMNS gets every column)")


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


def _engine_arguments(parser: argparse.ArgumentParser, kv_cache: bool = False) -> None:
    group = parser.add_argument_group("inference engines (vLLM, SGLang, llama.cpp, TGI, LocalAI, LM Studio: "
                                      "the ports their VRAM holders listen on, and engine_urls)")
    group.add_argument("--no-engines", action="store_true",
                       help="do not ask the engines holding GPU memory (nor the inventory's engine_urls) over HTTP")
    if not kv_cache:
        return
    group.add_argument("--kv-cache-warn", type=_percentage, default=90.0, metavar="PCT",
                       help="WARNING when a vLLM or SGLang server's KV cache is this full (default 90%%) ...")
    group.add_argument("--kv-cache-runs", type=_positive(int), default=3, metavar="N",
                       help="... for N runs in a row (default 3; state kept in --state-file)")


def _percentage(text: str) -> float:
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r} (e.g. 90 or 90%)") from None
    if not 0 < value <= 100:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"a percentage above 0 and at most 100: {text!r}")
    return value


def _timeouts(text: str) -> tuple[float, float]:
    connect, _, read = text.partition(",")
    parse = _positive(float)
    try:
        return parse(connect), parse(read or connect)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; expected CONNECT,READ seconds such as 1,3") from None


def _record_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("history (--record)")
    group.add_argument("--record", action="store_true",
                       help="append every GPU sample and Ollama placement to the history database")
    group.add_argument("--db", metavar="PATH",
                       help="history database (default: $XDG_DATA_HOME/flockops/history.sqlite)")
    group.add_argument("--retention", default="30d", metavar="DURATION",
                       help="with --record: delete rows older than this, e.g. 30d, 12h (default 30d)")


def _watch_history_parsers(sub: argparse._SubParsersAction[Parser]) -> None:
    watch = sub.add_parser("watch", help="the report table, refreshed in place; hosts that stop answering go STALE",
                           description=WATCH_HELP, epilog=WATCH_EXIT_HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    watch.add_argument("-n", "--interval", type=_positive(float), default=2.0, metavar="SECONDS",
                       help="seconds from one refresh's start to the next (default 2)")
    watch.add_argument("--count", type=_positive(int), metavar="N", help="stop after N refreshes (default: Ctrl-C)")
    watch.add_argument("--summary", action="store_true", help="one line per host instead of a section per host")
    watch.add_argument("--driver", action="append", metavar="NAME", help="use only this driver (repeatable)")
    watch.add_argument("-v", "--verbose", action="store_true", help="list every driver attempt")
    _wide_argument(watch)
    watch.add_argument("--timing", action="store_true",
                       help="after each refresh print its wall time, CPU time and SSH connections opened to stderr")
    _fleet_arguments(watch, default_timeout=10.0)
    _ollama_arguments(watch, infer=False)
    _engine_arguments(watch)
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
    _wide_argument(history)
    history.add_argument("--plot", metavar="FILE", help="draw VRAM and temperature over time, one row per GPU, to "
                         "FILE.png or FILE.svg (needs matplotlib: pip install 'flockops[plot]')")
    history.add_argument("--html", metavar="FILE", help="one self-contained HTML page with the table and the charts")
