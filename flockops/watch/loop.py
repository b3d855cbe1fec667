"""The refresh loop: collect, record, merge with the last good data, show; every few seconds."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from flockops.agent.model import ANSWERED, FleetReport, HostError, HostReport

# Data that counts as good: the host answered (maybe with some fields or drivers missing).


@dataclass(frozen=True, slots=True)
class HostView:
    """One host as the watch shows it."""

    # What is shown: this refresh's report, or the last good one when the host stopped answering.
    report: HostReport
    # Seconds since ``report`` was collected; None when the report carries no time.
    age_s: float | None
    stale: bool = False
    # When stale: why this refresh got nothing.
    now_errors: tuple[HostError, ...] = ()


def merge(fleet: FleetReport, last_good: dict[str, HostReport], now: float) -> tuple[HostView, ...]:
    """This refresh's views; ``last_good`` (host name -> last good report) is updated in place."""
    views = []
    for host in fleet.hosts:
        previous = last_good.get(host.host)
        if host.status in ANSWERED:
            last_good[host.host] = host
            views.append(HostView(host, _age(host, now)))
        elif previous is not None:
            views.append(HostView(previous, _age(previous, now), stale=True, now_errors=host.all_errors))
        else:
            views.append(HostView(host, None))  # never answered: its error is all there is, of no age
    return tuple(views)


def _age(host: HostReport, now: float) -> float | None:
    return None if host.collected_at is None else max(0.0, now - host.collected_at)


@dataclass(frozen=True, slots=True)
class Tick:
    """One refresh: what it found, and what it cost."""

    number: int
    fleet: FleetReport
    views: tuple[HostView, ...]
    started_at: float  # wall clock, for the header
    wall_s: float
    cpu_s: float  # this process, all threads: collection, rendering, recording
    opened: int  # SSH connections opened during this refresh (0 once all are kept open)

    @property
    def stale(self) -> int:
        return sum(v.stale for v in self.views)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(collect: Callable[[], FleetReport], show: Callable[[Tick], None], *, interval_s: float,
        count: int | None = None, record: Callable[[FleetReport], None] | None = None,
        timing: Callable[[Tick], None] | None = None, opened: Callable[[], int] = lambda: 0,
        clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep) -> int:
    """Refresh every ``interval_s`` seconds (start to start; a refresh that overruns is followed at
    once) until ``count`` refreshes are done, or forever. Returns the number of refreshes.

    Each refresh: ``collect``, ``record`` the fresh fleet (never the stale views), ``show`` the
    views, then ``timing`` gets the tick measured to the end of it all."""
    last_good: dict[str, HostReport] = {}
    number = 0
    next_start = clock()
    while count is None or number < count:
        delay = next_start - clock()
        if delay > 0:
            sleep(delay)
        began, began_wall, began_cpu, began_opened = clock(), wall(), _cpu_s(), opened()
        next_start = began + interval_s
        fleet = collect()
        number += 1
        if record is not None:
            record(fleet)
        views = merge(fleet, last_good, wall())
        tick = Tick(number, fleet, views, began_wall, clock() - began, _cpu_s() - began_cpu,
                    opened() - began_opened)
        show(tick)
        if timing is not None:
            timing(replace(tick, wall_s=clock() - began, cpu_s=_cpu_s() - began_cpu))
    return number
