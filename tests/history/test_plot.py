"""Charts from a recorded day: PNG, SVG and the self-contained HTML page."""

from __future__ import annotations

import importlib.util
import struct
import sys
import time
from pathlib import Path

import pytest
from support.history_data import build

from flockops.errors import UsageError

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="the plot extra (matplotlib) is not installed")


@pytest.fixture(scope="module")
def day_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("plot") / "day.sqlite"
    build(db, time.time())
    return db


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@needs_matplotlib
def test_png_svg_and_html(tmp_path: Path, day_db: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    png, svg, page = tmp_path / "h.png", tmp_path / "h.svg", tmp_path / "h.html"
    done = flockops("history", "--db", str(day_db), "--plot", str(png), "--html", str(page))
    assert done.returncode == 0, done.stderr
    width, height = png_size(png)
    assert (1000 <= width <= 2000) and (600 <= height <= 1200), (width, height)  # 3 GPUs: three rows
    assert png.stat().st_size > 20_000
    done = flockops("history", "--db", str(day_db), "--plot", str(svg), "-l", "gpu-b")
    assert done.returncode == 0, done.stderr
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "gpu-b" in text and "NVIDIA GeForce RTX 4090" in text and "gpu-a" not in text
    assert "model spilled to CPU 2 h 00 min" in text
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 1 and "<?xml" not in html
    assert "gpu-a" in html and "gpu-b" in html and "Above warning" in html
    assert "src=" not in html and "href=\"http" not in html  # nothing to fetch: one file says it all


@needs_matplotlib
def test_bad_plot_name(tmp_path: Path, day_db: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    done = flockops("history", "--db", str(day_db), "--plot", str(tmp_path / "h.jpg"))
    assert done.returncode == 1 and "must end in .png or .svg" in done.stderr


@needs_matplotlib
def test_an_empty_period_still_draws(tmp_path: Path) -> None:
    from flockops.history.plot import write_plot

    out = tmp_path / "empty.png"
    assert write_plot(out, [], time.time() - 3600, time.time()) == []
    assert png_size(out)[0] > 500


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from flockops.history.plot import require_matplotlib

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(UsageError, match=r"pip install 'flockops\[plot\]'"):
        require_matplotlib()


def test_missing_matplotlib_from_the_command_line(tmp_path: Path, day_db: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "block"
    blocker.mkdir()
    # A sitecustomize that hides matplotlib, as on a machine without the plot extra.
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['matplotlib'] = None\n")
    done = flockops("history", "--db", str(day_db), "--plot", str(tmp_path / "x.png"),
                    env={"PYTHONPATH": str(blocker)})
    assert done.returncode == 1
    assert done.stderr.strip() == "flockops: error: plots need matplotlib: pip install 'flockops[plot]'"
    assert not (tmp_path / "x.png").exists()


def _fresh_host(db: Path, gpus: int, minutes: int, now: float):  # type: ignore[no-untyped-def]
    """A host recorded every 5 minutes for the last ``minutes`` only: a fresh history, as on a new
    install; its series, read back from the store."""
    from flockops.agent.model import FleetReport, GpuSample, HostReport
    from flockops.history.store import History

    with History(db) as history:
        for k in range(minutes // 5 + 1):
            ts = now - minutes * 60 + k * 300
            samples = tuple(GpuSample(vendor="nvidia", index=i, source="nvml", name="NVIDIA H100 80GB HBM3",
                                      uuid=f"GPU-{i}", memory_total_bytes=80 << 30, memory_used_bytes=(10 + i) << 30,
                                      temperature_c=50.0 + i, temperature_slowdown_c=87.0) for i in range(gpus))
            history.record(FleetReport(hosts=(HostReport("gpu-big", gpus=samples, collected_at=ts),),
                                       generated_at=""), now=ts, retention_s=None)
        return history.gpu_series(now - 86400, now)


@needs_matplotlib
def test_the_time_axis_spans_the_data_not_the_window(tmp_path: Path) -> None:
    import matplotlib.dates as mdates

    from flockops.history.plot import figure

    now = 1_750_000_000.0
    # --since 24h over an hour of data
    fig = figure(_fresh_host(tmp_path / "h.sqlite", 1, 60, now), since=now - 86400, until=now)
    left, right = (mdates.num2date(x).timestamp() for x in fig.axes[0].get_xlim())
    assert now - 3600 - 120 <= left <= now - 3600 and now <= right <= now + 1
    assert right - left < 2 * 3600  # not a sliver at the edge of a day


@needs_matplotlib
def test_eight_gpus_fit_with_the_legend_outside_the_data(tmp_path: Path) -> None:
    from flockops.history.plot import figure, write_plot

    now = 1_750_000_000.0
    series = _fresh_host(tmp_path / "h.sqlite", 8, 60, now)
    fig = figure(series, since=now - 86400, until=now)
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)  # one, below every row
    out = tmp_path / "eight.png"
    write_plot(out, series, now - 86400, now)
    width, height = png_size(out)
    assert width == 1300 and height <= 1400, (width, height)  # was 1300x2090, the legend over GPU 0's data
