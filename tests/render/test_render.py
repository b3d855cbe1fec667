"""The table renderer on hand-made reports: what it says about values it cannot add up."""

from __future__ import annotations

from support.units import GIB

from flockops.agent.model import FleetReport, GpuSample, HostError, HostReport
from flockops.render.report import fleet_totals, summary_table


def test_lost_gpus_are_said_beside_the_vram_they_are_left_out_of() -> None:
    live = GpuSample(vendor="nvidia", index=0, source="nvml", memory_total_bytes=80 * GIB,
                     memory_used_bytes=10 * GIB)
    lost = GpuSample(vendor="nvidia", index=1, source="nvml", lost=True, lost_reason="GPU is lost")
    fleet = FleetReport(hosts=(HostReport("gpu-a", gpus=(live, lost)),), generated_at="2026-11-27T00:00:00+00:00")
    assert "GPUs: 2 | VRAM used / total: 10.0 GiB / 80.0 GiB (1 lost GPU not counted)" in fleet_totals(fleet)
    assert "10.0 GiB / 80.0 GiB (1 lost GPU not counted)" in summary_table(fleet)


def test_a_host_that_could_not_be_asked_has_no_gpu_count_but_one_with_no_gpu_has_0() -> None:
    down = HostReport("down", errors=(HostError("unreachable", "ssh", "connection refused"),))
    empty = HostReport("cpu-only")
    fleet = FleetReport(hosts=(down, empty), generated_at="2026-11-27T00:00:00+00:00")
    table, _, problems = summary_table(fleet).partition("\n\n")
    rows = {line.split()[0]: line.split() for line in table.splitlines()[2:]}
    assert rows["down"][:3] == ["down", "unreachable", "N/A"]
    assert rows["cpu-only"][:3] == ["cpu-only", "ok", "0"]
    # The problem is under the table, not in a cell that would widen it past any terminal.
    assert problems == "! down: unreachable: connection refused\n"


def test_csv_has_a_row_for_a_host_without_gpus_saying_why() -> None:
    import csv
    import io

    from flockops.render.report import to_csv

    down = HostReport("down", errors=(HostError("unreachable", "ssh", "connection refused"),))
    live = GpuSample(vendor="nvidia", index=0, source="nvml", memory_total_bytes=80 * GIB)
    fleet = FleetReport(hosts=(HostReport("gpu-a", gpus=(live,)), down), generated_at="2026-11-27T00:00:00+00:00")
    rows = list(csv.DictReader(io.StringIO(to_csv(fleet))))
    assert [(r["host"], r["status"], r["index"], r["memory_total_bytes"]) for r in rows] == [
        ("gpu-a", "ok", "0", str(80 * GIB)), ("down", "unreachable", "", "")]


def test_a_gpu_whose_memory_could_not_be_read_is_said_and_does_not_blank_the_total() -> None:
    read = GpuSample(vendor="nvidia", index=0, source="nvml", memory_total_bytes=80 * GIB,
                     memory_used_bytes=10 * GIB)
    unread = GpuSample(vendor="nvidia", index=1, source="nvml", memory_total_bytes=80 * GIB)
    fleet = FleetReport(hosts=(HostReport("gpu-a", gpus=(read, unread)),), generated_at="2026-11-27T00:00:00+00:00")
    assert "GPUs: 2 | VRAM used / total: 10.0 GiB / 80.0 GiB (1 unread GPU not counted)" in fleet_totals(fleet)
    only_unread = FleetReport(hosts=(HostReport("gpu-b", gpus=(unread,)),), generated_at="")
    assert "VRAM used / total: N/A / N/A (1 unread GPU not counted)" in fleet_totals(only_unread)
