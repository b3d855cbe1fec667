"""The Python API as a load balancer uses it (docs/api.md, #15 item 9)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.runner import base_env

import flockops

PUBLIC = ["collect_report", "best_node", "fit", "parse_size", "to_json", "hookimpl"]


def test_dir_lists_the_public_names_and_each_has_a_docstring() -> None:
    listed = dir(flockops)
    for name in PUBLIC:
        assert name in listed and name in flockops.__all__
        assert (getattr(flockops, name).__doc__ or "").strip(), name
    assert "__version__" in listed


@pytest.mark.parametrize(("text", "size"), [
    ("40GiB", 40 << 30), ("40GB", 40_000_000_000), ("512MiB", 512 << 20), ("1.5 TB", 1_500_000_000_000),
    ("1024", 1024), ("llama3:8b", None), ("7b", None),
])
def test_parse_size_as_documented(text: str, size: int | None) -> None:
    assert flockops.parse_size(text) == size


def test_parse_size_refuses_a_unit_that_could_mean_either() -> None:
    with pytest.raises(ValueError, match="say GiB .binary. or GB .decimal."):
        flockops.parse_size("40G")


def test_collect_report_takes_drivers_and_to_json_prints_what_the_cli_does(tmp_path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    from support.gpus import h100

    env = {**base_env(tmp_path), **nvml_env([h100()])}
    script = ("import flockops, sys; r = flockops.collect_report(drivers=['nvml'], local_ollama=False, "
              "known_hosts=[sys.argv[1]]); sys.stdout.write(flockops.to_json(r))")
    api = subprocess.run([sys.executable, "-c", script, str(tmp_path / "known_hosts")], capture_output=True,
                         text=True, env=env, check=False, timeout=60)
    assert api.returncode == 0, api.stderr
    cli = flockops("report", "-o", "json", "--driver", "nvml", "--no-ollama", env=nvml_env([h100()]))
    from_api, from_cli = json.loads(api.stdout), cli.json()
    for document in (from_api, from_cli):
        document.pop("generated_at")
        for host in document["hosts"]:
            host.pop("collected_at", None)
    assert from_api == from_cli
    assert [d["name"] for d in from_api["hosts"][0]["drivers"] if d["outcome"] == "used"] == ["nvml"]
