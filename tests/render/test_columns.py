"""Fitting a table to the terminal: compact cells, then columns left out by priority, then cuts."""

from __future__ import annotations

import io

from flockops.render.columns import Column, fit_columns, hidden_note, terminal_width, width_of

COLUMNS = [Column("GPU"), Column("Name", cuttable=True), Column("Used"), Column("Reserved", priority=3),
           Column("Power", priority=2), Column("Temp / slowdown", compact_header="Temp")]
ROWS = [["0", "NVIDIA H100 80GB HBM3", ("20,480 MiB (20.0 GiB)", "20.0G"), ("502 MiB (0.5 GiB)", "0.5G"),
         ("71 / 700 W", "71/700W"), ("42 °C / 87 °C", "42/87°C")]]


def test_a_table_that_fits_is_drawn_whole() -> None:
    fitted = fit_columns(COLUMNS, ROWS, 200)
    assert fitted.hidden == () and "20,480 MiB (20.0 GiB)" in fitted.text and "Temp / slowdown" in fitted.text
    assert fit_columns(COLUMNS, ROWS, None).text == fitted.text  # no width: a pipe gets it all
    assert fit_columns(COLUMNS, ROWS, 20, wide=True).text == fitted.text


def test_compact_cells_come_first_then_the_least_important_column_goes() -> None:
    compact = fit_columns(COLUMNS, ROWS, 70)
    assert compact.hidden == () and "20.0G" in compact.text and "42/87°C" in compact.text
    assert width_of(compact.text) <= 70
    narrow = fit_columns(COLUMNS, ROWS, 56)
    assert narrow.hidden == ("Reserved",) and "Power" in narrow.text and width_of(narrow.text) <= 56
    assert hidden_note(narrow, 56) == "(--wide shows Reserved: left out to fit 56 columns)\n"


def test_names_are_cut_last() -> None:
    fitted = fit_columns(COLUMNS, ROWS, 36)
    assert fitted.hidden == ("Power", "Reserved")
    assert "NVIDIA H1" in fitted.text and "…" in fitted.text and width_of(fitted.text) <= 36


def test_the_width_is_the_terminals_else_columns_else_none() -> None:
    assert terminal_width(io.StringIO(), {"COLUMNS": "80"}) == 80
    assert terminal_width(io.StringIO(), {}) is None
    assert terminal_width(io.StringIO(), {"COLUMNS": "wide"}) is None
