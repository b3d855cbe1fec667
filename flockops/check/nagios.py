"""Nagios / Icinga plugin output for `flockops check`.

First line ``FLOCKOPS <STATE> - <summary> | <perfdata>``, then one line per problem.
Perfdata follows the monitoring-plugins guidelines: ``'label'=value[UOM];warn;crit;min;max``
with quoted labels and C-locale numbers (a dot, no thousands separator, no exponent).
"""

from __future__ import annotations

from collections.abc import Sequence

from .rules import Item, Perf, State, problems

SUMMARY_ITEMS = 3
# The first line's text (before the perfdata): what a pager or a dashboard cell shows. The worst
# problem comes first, each cut to its start; the rest are in the lines below.
SUMMARY_CHARACTERS = 180
ITEM_CHARACTERS = 100


def number(value: float | None) -> str:
    """A C-locale number without exponent: 85899345920, 62, 0.5."""
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def label(text: str) -> str:
    # Quotes delimit a label; a quote inside one is written twice. '=' cannot appear, nor '|' and
    # line breaks (from a host name), which end the perfdata.
    return "'" + plain_text(text).replace("'", "''").replace("=", "_") + "'"


def perfdatum(p: Perf) -> str:
    tail = ";".join(number(v) for v in (p.warn, p.crit, p.minimum, p.maximum)).rstrip(";")
    return f"{label(p.label)}={number(p.value)}{p.uom}" + (f";{tail}" if tail else "")


def plain_text(text: str) -> str:
    """Item text on one line without '|', which starts the perfdata: an error message quoting a
    target's shell ("a | b: command not found") or a host name with a newline would break both."""
    return " ".join(text.replace("|", "/").split())


def render(items: Sequence[Item], state: State) -> str:
    bad = problems(items)
    if bad:
        summary = _summary(bad)
    else:
        hosts = len({i.host for i in items})
        gpus = len({i.key.rpartition("/")[0] for i in items if i.gpu is not None})
        summary = f"{gpus} GPU{'s' if gpus != 1 else ''} on {hosts} host{'s' if hosts != 1 else ''} OK"
    held = [i for i in items if i.held]
    if held:
        summary += f" ({len(held)} breach{'es' if len(held) != 1 else ''} held back by --consecutive)"
    perf = " ".join(perfdatum(p) for i in items for p in i.perf)
    lines = [f"FLOCKOPS {state.name} - {summary}" + (f" | {perf}" if perf else "")]
    lines += [f"{i.state.name}: {plain_text(i.text)}" for i in (*bad, *held)]
    lines += [f"INFO: {text}" for text in information(items)]
    return "\n".join(lines) + "\n"


def information(items: Sequence[Item]) -> list[str]:
    """What GPUs cannot report, once per reason: "throttle status not reported by sysfs-amd on 8 GPUs
    (node1 GPU0, node1 GPU1, ...)"."""
    by_text: dict[str, list[str]] = {}
    for item in items:
        if item.info and item.state == State.OK:
            by_text.setdefault(plain_text(item.info), []).append(item.key.rpartition("/")[0])
    said = []
    for text, where in by_text.items():
        shown = ", ".join(where[:3]) + (", ..." if len(where) > 3 else "")
        said.append(f"{text} on {len(where)} GPU{'s' if len(where) != 1 else ''} ({shown})")
    return said


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _summary(bad: Sequence[Item]) -> str:
    """The problems, worst first, as many as fit SUMMARY_CHARACTERS (at least the worst one)."""
    shown: list[str] = []
    for item in bad[:SUMMARY_ITEMS]:
        text = _cut(plain_text(item.brief or item.text), ITEM_CHARACTERS)
        if shown and len("; ".join([*shown, text])) > SUMMARY_CHARACTERS:
            break
        shown.append(text)
    more = len(bad) - len(shown)
    return "; ".join(shown) + (f" (+{more} more)" if more else "")
