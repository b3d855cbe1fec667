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
    assert "Ollama model spilled to CPU (2 h 00 min)" in text
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
