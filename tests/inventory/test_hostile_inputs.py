"""Inventories made by mistake or by malice: each is refused with one line naming the file, fast.

A NUL byte, nesting Python cannot recurse through, aliases that expand to billions of values, a
device instead of a file, ranges past a C long and host names of a megabyte (#14).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flockops.errors import InventoryError
from flockops.inventory.builder import MAX_GROUP_DEPTH
from flockops.inventory.files import MAX_FILE_BYTES
from flockops.inventory.loader import load_inventory
from flockops.inventory.ranges import MAX_NAME_CHARACTERS, expand_hosts


def refused(path: Path) -> str:
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    message = str(caught.value)
    assert message.startswith(f"{path}"), message
    assert "\n" not in message and len(message) < 400, message
    return message


def test_a_nul_byte_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "nul.yml"
    path.write_bytes(b"all:\n  hosts:\n    a\x00b:\n")
    assert refused(path).startswith(f"{path}:3: YAML cannot hold the character #x0000")


def test_yaml_nested_past_the_recursion_limit(tmp_path: Path) -> None:
    path = tmp_path / "deep.yml"
    path.write_text("all:\n  vars:\n    x: " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    assert "nested too deeply" in refused(path)


def test_group_vars_nested_past_the_recursion_limit(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text("[gpu]\nnode1\n", encoding="utf-8")
    (tmp_path / "group_vars").mkdir()
    deep = tmp_path / "group_vars" / "gpu.yml"
    deep.write_text("x: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n", encoding="utf-8")
    with pytest.raises(InventoryError, match="nested too deeply") as caught:
        load_inventory(tmp_path / "hosts.ini")
    assert str(caught.value).startswith(str(deep))


def test_a_billion_laughs_is_refused(tmp_path: Path) -> None:
    lines = ["all:", "  vars:", "    a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        lines.append(f"    a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    lines.append("  hosts:\n    node1:")
    path = tmp_path / "laughs.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert "aliases expand to more than" in refused(path)


def test_shared_aliases_within_reason_still_load(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yml"
    path.write_text("all:\n  vars:\n    base: &base {ansible_user: ops}\n  hosts:\n"
                    "    node1: *base\n    node2: *base\n", encoding="utf-8")
    inventory = load_inventory(path)
    assert [h.vars["ansible_user"] for h in inventory.hosts] == ["ops", "ops"]


def test_groups_nested_deeper_than_any_real_inventory(tmp_path: Path) -> None:
    depth = MAX_GROUP_DEPTH + 50
    sections = [f"[g{i}:children]\ng{i + 1}\n" for i in range(depth)] + [f"[g{depth}]\nnode1\n"]
    path = tmp_path / "deep.ini"
    path.write_text("".join(sections), encoding="utf-8")
    message = refused(path)
    assert f"levels deep; more than {MAX_GROUP_DEPTH}" in message


def test_groups_nested_a_few_levels_load(tmp_path: Path) -> None:
    sections = [f"[g{i}:children]\ng{i + 1}\n" for i in range(20)] + ["[g20]\nnode1\n"]
    path = tmp_path / "nested.ini"
    path.write_text("".join(sections), encoding="utf-8")
    assert [h.name for h in load_inventory(path).hosts] == ["node1"]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_not_read_for_ever() -> None:
    assert "not a regular file" in refused(Path("/dev/zero"))


def test_a_file_larger_than_an_inventory_can_be(tmp_path: Path) -> None:
    path = tmp_path / "huge.ini"
    with open(path, "wb") as handle:  # sparse: costs no disk
        handle.truncate(MAX_FILE_BYTES + 1)
    assert "larger than 64 MiB" in refused(path)


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.ini"
    path.write_bytes(b"[gpu]\nn\xe9ud1\n")
    assert "not UTF-8" in refused(path)


def test_a_range_past_a_c_long() -> None:
    with pytest.raises(ValueError, match="names 99,999,999,999,999,999,999 hosts"):
        expand_hosts("node[1:99999999999999999999]")


def test_a_megabyte_host_name_is_named_briefly(tmp_path: Path) -> None:
    path = tmp_path / "bigname.ini"
    path.write_text("[gpu]\n" + "n" * 1_000_000 + "\n", encoding="utf-8")
    message = refused(path)
    assert f"more than {MAX_NAME_CHARACTERS:,} is no host name" in message
    assert "(1,000,000 characters)" in message


@pytest.mark.parametrize("line", [
    "node1 ansible_host=10.0.0.1 ansible_port=22",
    "node1\tgpu_count=8   rack=a1",
    "node[1:3]  ansible_user=ops",
])
def test_plain_host_lines_read_as_shlex_reads_them(tmp_path: Path, line: str) -> None:
    # Lines without quotes or comments skip shlex (a megabyte line took it 15 s); the result must not differ.
    plain = tmp_path / "plain.ini"
    plain.write_text(f"[gpu]\n{line}\n", encoding="utf-8")
    quoted = tmp_path / "quoted.ini"
    quoted.write_text(f"[gpu]\n{line} note='x'\n", encoding="utf-8")
    for a, b in zip(load_inventory(plain).hosts, load_inventory(quoted).hosts, strict=True):
        assert a.name == b.name
        assert {k: v for k, v in b.vars.items() if k != "note"} == a.vars
