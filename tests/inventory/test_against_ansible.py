"""Our inventory reading against ansible-core's own: same hosts, groups, variables and limits.

Runs ``ansible-inventory`` (installed beside this Python; a test-only dependency) on the inventories in
tests/data/inventory/ and on the examples in inventory/, and compares its JSON with
``Inventory.to_list_json()``. The one intended difference, masked secrets, is applied to Ansible's
output before comparing; ``_meta.profile`` (new in ansible-core 2.19) is dropped. About 20 runs of
well under a second each; nothing touches the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ansible", reason="ansible-core is a test-only dependency: pip install ansible-core")

from support.paths import DATA as TESTS_DATA
from support.paths import EXAMPLE_INVENTORIES as EXAMPLES

from flockops.inventory.loader import load_inventory
from flockops.inventory.secrets import mask_secrets  # noqa: E402

DATA = TESTS_DATA / "inventory"
BIN = Path(sys.executable).parent

SOURCES = {
    "yaml-nested": DATA / "yaml_nested" / "fleet.yml",
    "ini-fleet": DATA / "ini_fleet" / "hosts",
    "precedence": DATA / "precedence" / "inventory.ini",
    "ungrouped": DATA / "ungrouped.yml",
    "json": DATA / "fleet.json",
    "directory": DATA / "dir_source",
    "example-lab": EXAMPLES / "lab.yml",
    "example-prod": EXAMPLES / "prod" / "hosts.ini",
    "linked-file": DATA / "linked" / "link" / "hosts.ini",  # group_vars/ beside the link, not its target
}

LIMITS = [
    ("ini-fleet", "gpu:&a100:!a100[0]"),      # ":"-separated, intersection, exclusion, subscript
    ("ini-fleet", "l40s,cpu-*,workstation"),  # group, glob and host mixed
    ("ini-fleet", "~(lab|cpu)-[a9]"),         # regex
    ("ini-fleet", "ungrouped:2001:db8::10"),  # ungrouped; the IPv6 address is split on ":" (as Ansible does)
    ("yaml-nested", "h100_nvl"),              # parents keep listing children left empty
    ("yaml-nested", "!gpu"),                  # only an exclusion: starts from all
    ("precedence", "alpha[1],low"),
    ("example-prod", "gpu:!maintenance"),
]


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if not (BIN / "ansible-inventory").exists():
        pytest.skip(f"no ansible-inventory beside {sys.executable}")
    home = tmp_path_factory.mktemp("ansible-home")
    (home / "tmp").mkdir()
    config = home / "ansible.cfg"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({
        "HOME": str(home),
        "ANSIBLE_CONFIG": str(config),  # never a stray ansible.cfg from the caller
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_HOST_PATTERN_MISMATCH": "ignore",
        "ANSIBLE_NOCOLOR": "1",
    })
    return env


def run(env: dict[str, str], tool: str, *args: str) -> str:
    # cwd is an empty directory so that no group_vars/ beside the playbook directory is picked up.
    done = subprocess.run([str(BIN / tool), *args], capture_output=True, text=True, env=env, cwd=env["HOME"],
                          timeout=60, check=False)
    assert done.returncode == 0, f"{tool} {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


def ansible_list(env: dict[str, str], source: Path, limit: str | None = None) -> dict[str, Any]:
    out = json.loads(run(env, "ansible-inventory", "-i", str(source), "--list",
                         *(["--limit", limit] if limit else [])))
    out["_meta"].pop("profile", None)
    out["_meta"]["hostvars"] = {h: mask_secrets(v) for h, v in out["_meta"]["hostvars"].items()}
    return dict(out)


def ours(source: Path, limit: str | None = None) -> dict[str, Any]:
    # Through JSON, as the CLI prints it: tuples become lists, keys strings.
    return dict(json.loads(json.dumps(load_inventory(source).to_list_json(limit))))


@pytest.mark.parametrize("name", list(SOURCES))
def test_list_matches_ansible_inventory(ansible_env: dict[str, str], name: str) -> None:
    assert ours(SOURCES[name]) == ansible_list(ansible_env, SOURCES[name])


@pytest.mark.parametrize(("name", "limit"), LIMITS)
def test_limit_matches_ansible_inventory(ansible_env: dict[str, str], name: str, limit: str) -> None:
    expected = ansible_list(ansible_env, SOURCES[name], limit)
    assert ours(SOURCES[name], limit) == expected
    # And the hosts select() returns are exactly those Ansible lists somewhere.
    listed = {h for group in expected.values() for h in group.get("hosts", ())} | set(expected["_meta"]["hostvars"])
    assert {h.name for h in load_inventory(SOURCES[name]).select(limit)} == listed


def test_several_sources_match_ansible_inventory(ansible_env: dict[str, str]) -> None:
    """`-i a -i b`: one inventory of both, node1 in each, every kind of variable set in each. A
    later source's group_vars of a parent group beat an earlier source's of its child: Ansible
    merges group_vars source by source."""
    first, second = DATA / "two_sources" / "first" / "hosts.ini", DATA / "two_sources" / "second" / "fleet.yml"
    late = first.with_name("late.ini")  # back in the first directory: its group_vars apply again, last
    for sources, shared in (([first, second], "second-parent"), ([first, second, late], "first-child")):
        args = [word for source in sources for word in ("-i", str(source))]
        expected = json.loads(run(ansible_env, "ansible-inventory", *args, "--list"))
        expected["_meta"].pop("profile", None)
        assert json.loads(json.dumps(load_inventory(sources).to_list_json(None))) == expected
        assert expected["_meta"]["hostvars"]["node1"]["shared"] == shared  # the cases above


@pytest.mark.parametrize("order", [("host.yml", "group.ini"), ("group.ini", "host.yml")])
def test_a_host_and_a_group_of_one_name_match_ansible_inventory(ansible_env: dict[str, str],
                                                                order: tuple[str, str]) -> None:
    sources = [DATA / "name_clash" / name for name in order]
    args = [word for source in sources for word in ("-i", str(source))]
    expected = json.loads(run(ansible_env, "ansible-inventory", *args, "--list"))
    expected["_meta"].pop("profile", None)
    assert json.loads(json.dumps(load_inventory(sources).to_list_json(None))) == expected
    assert load_inventory(sources).to_graph() == run(ansible_env, "ansible-inventory", *args, "--graph").rstrip("\n")


def test_graph_with_vars_matches_ansible_inventory(ansible_env: dict[str, str]) -> None:
    source = SOURCES["precedence"]  # no secrets in it, so the text must match exactly
    expected = run(ansible_env, "ansible-inventory", "-i", str(source), "--graph", "--vars")
    assert load_inventory(source).to_graph(show_vars=True) == expected.rstrip("\n")


def test_host_order_matches_ansible(ansible_env: dict[str, str]) -> None:
    source = SOURCES["ini-fleet"]
    out = run(ansible_env, "ansible", "-i", str(source), "all", "--list-hosts")
    expected = [line.strip() for line in out.splitlines()[1:] if line.strip()]
    assert [h.name for h in load_inventory(source).hosts] == expected
