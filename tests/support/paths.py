"""Where the tests' files are."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
FAKES = TESTS / "fakes"  # small executables replaying real captured output
DATA = TESTS / "data"  # the captures, with their provenance in each folder's SOURCES.md
EXAMPLE_INVENTORIES = REPO / "inventory"
PLUGINS = REPO / "plugins"
