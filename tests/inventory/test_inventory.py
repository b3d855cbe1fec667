"""Inventories: formats, ranges, group_vars/host_vars, precedence, limits, output, errors, targets.

Fast, in-process. tests/inventory/test_against_ansible.py checks the same inventories against ansible-inventory.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from support.paths import DATA as TESTS_DATA
from support.paths import EXAMPLE_INVENTORIES as EXAMPLES

from flockops.errors import InventoryError, UsageError
from flockops.inventory.limit import parse_address, split_patterns
from flockops.inventory.loader import load_inventory
from flockops.inventory.model import Host, Inventory
from flockops.inventory.ranges import expand_hosts, expand_range
from flockops.inventory.secrets import MASK, Vaulted, is_secret, mask_secrets
from flockops.remote.settings import target_for

DATA = TESTS_DATA / "inventory"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_text(tmp_path: Path, name: str, text: str) -> Inventory:
    return load_inventory(write(tmp_path, name, text))


def names(hosts: tuple[Host, ...]) -> list[str]:
    return [h.name for h in hosts]


# --------------------------------------------------------------------------------------------------
# Host ranges and addresses


@pytest.mark.parametrize(("pattern", "expected"), [
    ("node[01:03]", ["node01", "node02", "node03"]),
    ("node[1:3]", ["node1", "node2", "node3"]),
    ("node[08:11]", ["node08", "node09", "node10", "node11"]),
    ("node[1:9:4]", ["node1", "node5", "node9"]),
    ("node[01:10:3]", ["node01", "node04", "node07", "node10"]),
    ("db-[a:c]", ["db-a", "db-b", "db-c"]),
    ("db-[a:e:2].example", ["db-a.example", "db-c.example", "db-e.example"]),
    ("n[:2]", ["n0", "n1", "n2"]),
    ("r[1:2]-g[a:b]", ["r1-ga", "r1-gb", "r2-ga", "r2-gb"]),
    ("10.0.0.[1:3]", ["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
    ("node[3:1]", []),  # as in Ansible: an empty numeric range is no hosts, not an error
])
def test_expand_range(pattern: str, expected: list[str]) -> None:
    assert expand_range(pattern) == expected


@pytest.mark.parametrize(("pattern", "message"), [
    ("node[01:3]", "equal width"),
    ("node[1:]", "must have an end"),
    ("node[1]", "begin:end"),
    ("node[1:2:3:4]", "begin:end"),
    ("db-[c:a]", "begin <= end"),
    ("node[1:x]", "bad host range"),
    ("node[1:5:0]", "bad host range"),
    ("node[a:b:x]", "bad host range"),
])
def test_expand_range_errors(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expand_range(pattern)


@pytest.mark.parametrize(("entry", "expected"), [
    ("node01", (["node01"], None)),
    ("node01:2222", (["node01"], 2222)),
    ("node[01:02]:2200", (["node01", "node02"], 2200)),
    ("[2001:db8::10]:2222", (["2001:db8::10"], 2222)),
    ("fe80::1", (["fe80::1"], None)),
    ("10.0.0.1:22", (["10.0.0.1"], 22)),
    ("odd/name:x", (["odd/name:x"], None)),  # not an address: taken whole, as by Ansible
])
def test_expand_hosts(entry: str, expected: tuple[list[str], int | None]) -> None:
    assert expand_hosts(entry) == expected


def test_parse_address_rejects_non_hosts() -> None:
    with pytest.raises(ValueError):
        parse_address("not a host")


# --------------------------------------------------------------------------------------------------
# YAML


def test_yaml_nesting_ranges_and_null_hosts() -> None:
    inv = load_inventory(DATA / "yaml_nested" / "fleet.yml")
    assert inv.groups["gpu"].children == ("a100", "h100")
    assert inv.groups["h100"].children == ("h100_nvl",)
    assert inv.groups["h100_nvl"].hosts == ("gpu-h100-nvl-a", "gpu-h100-nvl-b", "gpu-h100-nvl-c")
    assert inv.groups["a100"].hosts == ("gpu-a100-01", "gpu-a100-02", "gpu-a100-03", "gpu-a100-04")
    assert inv.groups["h100_nvl"].depth == 3
    nvl = inv.host("gpu-h100-nvl-b")
    assert nvl.groups == ("gpu", "h100", "h100_nvl")
    # Inherited through three levels, overridden on the way.
    assert nvl.vars["flockops_crit_temp"] == 88
    assert nvl.vars["flockops_warn_temp"] == 82
    assert inv.host("gpu-a100-04").vars["ansible_port"] == 2222
    assert inv.host("bastion.example.net").groups == ("ungrouped",)
    assert inv.groups["empty_group"].hosts == ()


def test_yaml_string_forms_anchors_and_merge_keys() -> None:
    inv = load_inventory(DATA / "ungrouped.yml")
    assert inv.groups["gpu"].hosts == ("also-in-gpu",)
    assert inv.groups["fleet"].children == ("gpu",)
    assert inv.host("also-in-gpu").vars["site"] == "lab"
    assert inv.host("cpu2").vars["ansible_user"] == "ops"
    assert inv.host("cpu2").vars["ansible_port"] == 2223
    assert inv.host("2001:db8::1").vars["ansible_port"] == 2222
    assert inv.warnings == ()


def test_json_inventory() -> None:
    inv = load_inventory(DATA / "fleet.json")
    assert names(inv.hosts) == ["gpu-1", "gpu-2", "gpu-3", "gpu-9", "gpu-10", "gpu-11", "gpu-12"]
    assert inv.host("gpu-11").groups == ("gpu", "gpu_new")


def test_json_indented_with_tabs(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "inv.json", '{\n\t"gpu": {\n\t\t"hosts": {"node1": {"a": "x\\ty"}}\n\t}\n}\n')
    assert inv.host("node1").vars == {"a": "x\ty"}


def test_yaml_without_suffix_is_detected(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "hosts", """
        gpu:
          hosts:
            node1:
    """)
    assert inv.groups["gpu"].hosts == ("node1",)


def test_yaml_vault_values_are_opaque_and_masked(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "inv.yml", """
        all:
          hosts:
            node1:
              ansible_password: !vault |
                $ANSIBLE_VAULT;1.1;AES256
                6331
              token: !vault |
                $ANSIBLE_VAULT;1.1;AES256
                6332
              motd: !unsafe "{{ not templated }}"
    """)
    host = inv.host("node1")
    assert isinstance(host.vars["token"], Vaulted)
    assert host.vars["motd"] == "{{ not templated }}"
    assert inv.to_list_json()["_meta"]["hostvars"]["node1"]["token"] == MASK
    assert target_for(host).password is None


def test_empty_yaml_file_warns(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "inv.yml", "# nothing yet\n")
    assert inv.hosts == ()
    assert inv.warnings and "empty" in inv.warnings[0]


# --------------------------------------------------------------------------------------------------
# INI


def test_ini_fleet() -> None:
    inv = load_inventory(DATA / "ini_fleet" / "hosts")
    assert inv.groups["ungrouped"].hosts == ("workstation",)  # loose-box is in [cpu] too
    assert inv.groups["gpu"].children == ("a100", "l40s")
    assert inv.groups["l40s"].hosts == ("lab-a", "lab-b", "lab-c", "2001:db8::10", "fe80::1")
    assert inv.host("2001:db8::10").vars["ansible_port"] == 2222
    assert inv.host("loose-box").vars["ansible_port"] == 2201
    # node07 came first from node[05:09:2]:2200; its own line and a later "node01:2999" give no port.
    assert inv.host("node07").vars["ansible_port"] == 2200
    assert "ansible_port" not in inv.host("node01").vars


@pytest.mark.parametrize(("var", "expected"), [
    ("rack", "host-file"),  # host_vars/node07.yaml
    ("gpu_count", 8),
    ("quoted", "two words"),
    ("pi", 3.14),
    ("flag", True),
    ("nothing", None),
    ("tup", [1, 2]),
    ("dct", {"a": 1}),
    ("literal_list", [1, 2, 3]),  # from [gpu:vars]: evaluated too, whatever the docs say
    ("as_string", "FALSE"),
    ("with_comment", "value # not a comment in a :vars section"),
    ("ansible_ssh_common_args", '-o ProxyCommand="ssh -W %h:%p -q ops@jump.example.net"'),
    ("ollama_url", "http://localhost:11434"),
])
def test_ini_value_rules(var: str, expected: Any) -> None:
    inv = load_inventory(DATA / "ini_fleet" / "hosts")
    assert inv.host("node07").vars[var] == expected


@pytest.mark.parametrize(("line", "expected"), [
    ("x=1", 1),
    ("x=0x10", 16),
    ("x='07'", "07"),   # shell quotes removed first: 07 is then not a literal
    ("x=\"'07'\"", "07"),
    ("x=yes", "yes"),
    ("x=True", True),
    ("x=true", "true"),
    ("x=[1,'a']", "[1,a]"),  # the shell-style split ate the quotes
    ("x=\"[1,'a']\"", [1, "a"]),
    ("x=...", "..."),
    ("x=1j", "1j"),
    ("x=a=b", "a=b"),
])
def test_ini_host_line_values(tmp_path: Path, line: str, expected: Any) -> None:
    inv = load_text(tmp_path, "hosts.ini", f"node1 {line}\n")
    assert inv.host("node1").vars["x"] == expected


@pytest.mark.parametrize(("line", "expected"), [
    ("x=1", 1),
    ("x = two words ", "two words"),
    ("x='07'", "07"),
    ("x=yes", "yes"),
    ("x=[1, 2]", [1, 2]),
])
def test_ini_vars_section_values(tmp_path: Path, line: str, expected: Any) -> None:
    inv = load_text(tmp_path, "hosts.ini", f"[g]\nnode1\n[g:vars]\n{line}\n")
    assert inv.host("node1").vars["x"] == expected


def test_ini_children_declared_later_and_vars_first(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "hosts.ini", """
        [b:vars]
        v=b
        [top:children]
        a
        [a:children]
        b
        [a]
        [b]
        n1
    """)
    assert inv.groups["top"].children == ("a",)
    assert inv.groups["a"].children == ("b",)
    assert inv.host("n1").groups == ("a", "b", "top")
    assert inv.groups["all"].children == ("ungrouped", "top")


def test_ini_file_with_any_suffix(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "fleet.inventory", "[gpu]\nnode1\n")
    assert inv.groups["gpu"].hosts == ("node1",)


# --------------------------------------------------------------------------------------------------
# Errors and warnings


@pytest.mark.parametrize(("name", "text", "line", "key", "message"), [
    ("inv.yml", "all:\n  children:\n    gpu:\n      hosts:\n        - node1\n", 4, "hosts",
     "group 'gpu' key 'hosts' must be a mapping of host names, got a list"),
    ("inv.yml", "gpu:\n  vars: [1, 2]\n", 2, "vars", "group 'gpu' key 'vars' must be a mapping of variable names"),
    ("inv.yml", "gpu:\n  children: [a]\n", 2, "children", "key 'children' must be a mapping of group names"),
    ("inv.yml", "gpu:\n  hosts:\n    node1: just-a-string\n", 3, "node1", "host 'node1' must have a mapping"),
    ("inv.yml", "gpu:\n  hosts:\n    node[1:x]:\n", 3, "node[1:x]", "group 'gpu' host 'node[1:x]': bad host range"),
    ("inv.yml", "gpu:\n  hosts:\n    42:\n", 3, "42", "must be a string"),
    ("inv.yml", "gpu:\n  children:\n    oops: [1]\n", 3, "oops", "child 'oops' is not a known group"),
    ("inv.yml", "gpu:\n  hosts:\n    a: {x: 1\n", 4, None, "YAML syntax error"),
    ("inv.yml", "gpu:\n  children:\n    gpu:\n", 3, "gpu", "makes a loop"),
    ("inv.yml", "- a\n- b\n", 1, None, "must be a mapping of group names, got a list"),
    ("inv.yml", "plugin: aws_ec2\n", 1, "plugin", "inventory plugin configuration"),
    ("inv.yml", "gpu:\n  vars:\n    ansible_group_priority: high\n", 3, "ansible_group_priority", "must be an integer"),
    ("hosts.ini", "[gpu:children]\nmissing\n", 2, "missing",
     "section [gpu:children] names group 'missing', which is not defined"),
    ("hosts.ini", "[gpu:vars]\nx=1\n", 1, "gpu", "section [gpu:vars] is for group 'gpu', which is not defined"),
    ("hosts.ini", "[gpu]\nnode1\n[gpu:vars]\nnot-a-pair\n", 4, None, "[gpu:vars] expects key=value"),
    ("hosts.ini", "[gpu]\nnode1 user\n", 2, "user", "expects key=value variables, got 'user'"),
    ("hosts.ini", "[gpu]\nnode1 ansible_password='unclosed\n", 2, None, "cannot parse the line of host 'node1': "),
    ("hosts.ini", "[gpu]\nnode[01:3]\n", 2, "node[01:3]", "equal width"),
    ("hosts.ini", "[gpu:hosts2]\n", 1, "hosts2", "unknown type"),
    ("hosts.ini", "[gpu group]\n", 1, None, "invalid section"),
    ("hosts.ini", "[gpu]\nnode1:\n", 2, "node1:", "ends in ':'"),
    ("hosts.ini", "[a:children]\nb\n[b:children]\na\n", 4, "a", "makes a loop"),
    ("hosts.ini", "[gpu]\nnode1 x={[1]:2}\n", 2, "x", "cannot be read"),
    ("hosts", "---\nnot: [valid\n", 1, None, "'---' is not a host"),
])
def test_structural_errors_name_file_line_and_key(
    tmp_path: Path, name: str, text: str, line: int, key: str | None, message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)
    assert (caught.value.file, caught.value.line, caught.value.key) == (str(path), line, key)


def test_errors_do_not_show_passwords(tmp_path: Path) -> None:
    for text in ("node1 ansible_password='hunter2\n", "node1 db_secret=\"{['hunter2']: 1}\"\n",
                 "node1 ansible_password=correct hunter2 battery\n", "node1 ansible_password:hunter2\n",
                 "[gpu:vars]\nansible_password hunter2\n", "[gpu:vars]\nansible_become_pass \"hunter2\"\n",
                 "[gpu]\nansible_become_pass = hunter2\n"):
        with pytest.raises(InventoryError) as caught:
            load_text(tmp_path, "hosts.ini", text)
        assert "hunter2" not in str(caught.value)
    # PyYAML quotes the token it stumbled on: an alias-like or mistyped password.
    for text in ("all:\n  hosts:\n    node1:\n      ansible_password: *hunter2\n",
                 "all:\n  hosts:\n    node1:\n      ansible_password: !!int hunter2\n",
                 "all:\n  hosts:\n    node1:\n      ansible_become_pass: !hunter2 x\n",
                 "all:\n  hosts:\n    node1:\n      ansible_password: !!bool hunter2\n",
                 "all:\n  hosts:\n    node1: {ansible_password: *hunter2}\n",
                 "all:\n  hosts:\n    node1:\n      ansible_password:\n        *hunter2\n",
                 "all:\n  hosts:\n    node1:\n      ansible_password:\n        # rotated\n\n        *hunter2\n"):
        with pytest.raises(InventoryError) as caught:
            load_text(tmp_path, "hosts.yml", text)
        assert "hunter2" not in str(caught.value) and caught.value.line in (3, 4, 5, 7), str(caught.value)
        assert "the value is hidden" in str(caught.value)


def test_a_value_that_does_not_fit_its_tag_is_an_inventory_error(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as caught:
        load_text(tmp_path, "hosts.yml", "all:\n  hosts:\n    node1:\n      rack: !!int r2\n")
    assert caught.value.line == 4 and "a value does not fit its tag (ValueError)" in str(caught.value)


def test_more_secret_names_are_masked_and_reprs_hold_no_variables(tmp_path: Path) -> None:
    """ansible-core 2.19's private key and passphrase variables, other plugins' *_pass, tokens."""
    names = ["ansible_private_key", "ansible_private_key_passphrase", "ansible_ssh_private_key_passphrase",
             "ansible_httpapi_pass", "ansible_winrm_pass", "ansible_net_auth_pass", "ansible_paramiko_pass",
             "ansible_runas_pass", "vault_token", "api_key", "pwd", "db_pwd"]
    text = "all:\n  hosts:\n    node1:\n" + "".join(f"      {n}: leak-{n}\n" for n in names)
    text += "      ansible_ssh_private_key_file: /keys/id_ed25519\n"
    inv = load_text(tmp_path, "hosts.yml", text)
    hostvars = inv.to_list_json()["_meta"]["hostvars"]["node1"]
    assert {n: hostvars[n] for n in names} == dict.fromkeys(names, MASK)
    assert hostvars["ansible_ssh_private_key_file"] == "/keys/id_ed25519"  # a path, not a secret
    assert "leak" not in inv.to_graph(show_vars=True)
    assert "leak" not in repr(inv) and "leak" not in repr(inv.hosts[0])


def test_error_message_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The path is shown as the user gave it.
    write(tmp_path, "inventory/prod.yml", "all:\n  children:\n    gpu:\n      hosts:\n        - node1\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InventoryError) as caught:
        load_inventory(Path("inventory/prod.yml"))
    assert str(caught.value) == ("inventory/prod.yml:4: group 'gpu' key 'hosts' must be a mapping of host names, "
                                 "got a list")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"nowhere\.yml: inventory file not found"):
        load_inventory(tmp_path / "nowhere.yml")


def test_toml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="TOML"):
        load_text(tmp_path, "inv.toml", "[gpu.hosts.node1]\n")


def test_group_vars_file_must_be_a_mapping(tmp_path: Path) -> None:
    write(tmp_path, "group_vars/gpu.yml", "- a\n- b\n")
    with pytest.raises(InventoryError) as caught:
        load_text(tmp_path, "hosts.ini", "[gpu]\nnode1\n")
    assert str(caught.value) == f"{tmp_path}/group_vars/gpu.yml:1: a variables file must be a mapping of variable " \
                                "names, got a list"


def test_group_vars_yaml_syntax_error(tmp_path: Path) -> None:
    write(tmp_path, "host_vars/node1.yml", "a: 1\nb: [\n")
    with pytest.raises(InventoryError, match=r"host_vars/node1\.yml:3: YAML syntax error"):
        load_text(tmp_path, "hosts.ini", "node1\n")


def test_warnings_name_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "inv.yml", """
        gpu:
          host:
            node1:
          hosts:
            node2:
          vars:
            a: 1
            a: 2
        weird: [1, 2]
        cpu:
          hosts:
            gpu:
    """)
    inv = load_inventory(path)
    assert inv.warnings == (
        f"{path}:2: group 'gpu' key 'host' ignored: only 'hosts', 'vars' and 'children' are valid",
        f"{path}:8: duplicate key 'a'; the last one wins",
        f"{path}:9: group 'weird' skipped: a group must be a mapping or empty, got a list",
        f"{path}:12: 'gpu' is both a group and a host",
    )
    assert inv.host("node2").vars == {"a": 2}
    assert "weird" not in inv.groups


# --------------------------------------------------------------------------------------------------
# group_vars/, host_vars/ and precedence


@pytest.mark.parametrize(("host", "var", "expected"), [
    ("h1", "v_all_inline", "all-inline"),
    ("h1", "v_group_inline", "child-inline"),       # child beats parent beats all
    ("h1", "v_sibling", "zeta"),                    # same depth: the later name wins
    ("h3", "v_priority", "low-but-priority-10"),    # ... unless ansible_group_priority says otherwise
    ("h1", "v_gv_all", "group_vars-all"),           # any group_vars file beats any inline group var
    ("h1", "v_gv_group", "group_vars-child"),       # child file beats parent file beats all file
    ("h1", "v_host_inline", "h1-inline"),           # host inline beats every group_vars file
    ("h2", "v_host_inline", "group_vars-child"),
    ("h1", "v_host_vars", "host_vars-h1"),          # host_vars beats host inline
    ("h2", "v_host_vars", "group_vars-all"),
])
def test_precedence(host: str, var: str, expected: str) -> None:
    inv = load_inventory(DATA / "precedence" / "inventory.ini")
    assert inv.host(host).vars[var] == expected


def test_group_priority_is_not_a_variable() -> None:
    inv = load_inventory(DATA / "precedence" / "inventory.ini")
    assert inv.groups["low"].priority == 10
    assert "ansible_group_priority" not in inv.groups["low"].vars
    assert "ansible_group_priority" not in inv.host("h3").vars
    assert "{ansible_group_priority = 10}" in inv.to_graph(show_vars=True)


def test_group_vars_directory_hides_file_and_skips_others() -> None:
    inv = load_inventory(DATA / "yaml_nested" / "fleet.yml")
    gpu = inv.groups["gpu"].vars
    # group_vars/gpu/ is read (10-base.yml, 20-override.yaml, sub/more); gpu.yml, notes.txt,
    # .hidden.yml and 30-old.yml~ are not.
    assert gpu["tier"] == "gpu-dir-20"
    assert gpu["driver"] == "550.54"
    assert gpu["mig"] is False
    assert inv.groups["a100"].vars["tier"] == "a100-json"
    assert inv.host("gpu-a100-02").vars["tier"] == "a100-json"
    assert inv.host("gpu-a100-01").vars["tier"] == "host-file"
    assert inv.host("gpu-h100-02").vars["ollama_url"] == "http://gpu-h100-02:11434"  # host_vars file, no suffix
    assert inv.host("gpu-h100-01").vars["site"] == "from-group_vars-all"


def test_empty_vars_file_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "group_vars/all.yml", "---\n")
    write(tmp_path, "host_vars/node1.yml", "{}\n")
    inv = load_text(tmp_path, "hosts.ini", "node1 a=1\n")
    assert inv.host("node1").vars == {"a": 1}


def test_ungrouped() -> None:
    inv = load_inventory(DATA / "ungrouped.yml")
    assert inv.groups["ungrouped"].hosts == ("straggler", "solo", "2001:db8::1")
    assert inv.groups["all"].hosts == ("solo", "also-in-gpu", "2001:db8::1")
    assert inv.host("solo").groups == ("ungrouped",)
    assert inv.host("also-in-gpu").groups == ("fleet", "gpu")


def test_directory_inventory() -> None:
    inv = load_inventory(DATA / "dir_source")
    assert inv.groups["gpu"].hosts == ("gpu-01", "gpu-02", "gpu-03")
    assert inv.groups["fleet"].children == ("gpu", "cpu")
    assert inv.host("gpu-03").vars == {"flockops_warn_temp": 70}


def test_directory_without_inventory_files(tmp_path: Path) -> None:
    write(tmp_path, "group_vars/all.yml", "a: 1\n")
    with pytest.raises(InventoryError, match="holds no inventory file"):
        load_inventory(tmp_path)


# --------------------------------------------------------------------------------------------------
# Limits


@pytest.mark.parametrize(("limit", "expected"), [
    (None, ["workstation", "loose-box", "cpu-8"]),
    ("all", ["workstation", "loose-box", "cpu-8"]),
    ("*", ["workstation", "loose-box", "cpu-8"]),
    ("gpu", ["node01", "node02", "node03", "node04", "node05", "node07", "node09", "lab-a", "lab-b", "lab-c",
             "2001:db8::10", "fe80::1"]),
    # Inventory order is Ansible's: all's children ([cpu] before a100 and l40s, which are under gpu).
    ("l40s,cpu-8", ["cpu-8", "lab-a", "lab-b", "lab-c", "2001:db8::10", "fe80::1"]),
    ("cpu-8,l40s", ["cpu-8", "lab-a", "lab-b", "lab-c", "2001:db8::10", "fe80::1"]),
    ("l40s:!lab-*", ["2001:db8::10", "fe80::1"]),
    ("a100:&node0[!5-9]", ["node01", "node02", "node03", "node04"]),
    ("a100:&node0[1-3]", []),  # [1-3] is Ansible's old subscript syntax, not a glob class
    ("!gpu:!cpu", ["workstation"]),
    ("~node0[79]", ["node07", "node09"]),
    ("~node", ["node01", "node02", "node03", "node04", "node05", "node07", "node09"]),  # anchored at start only
    ("lab-?", ["lab-a", "lab-b", "lab-c"]),
    ("ungrouped", ["workstation"]),
    ("a100[0]", ["node01"]),
    ("a100[1:2]", ["node02", "node03"]),
    ("a100[5:]", ["node07", "node09"]),
    ("fe80::1", ["fe80::1"]),
    ("2001:db8::10,cpu", ["loose-box", "cpu-8", "cpu-9", "cpu-10", "cpu-11", "2001:db8::10"]),
    ("nomatch", []),
    ("", ["workstation", "loose-box", "cpu-8"]),
])
def test_select(limit: str | None, expected: list[str]) -> None:
    inv = load_inventory(DATA / "ini_fleet" / "hosts")
    selected = names(inv.select(limit))
    if limit in (None, "all", "*", ""):
        assert selected == names(inv.hosts)
        assert selected[:3] == expected
    else:
        assert selected == expected


def test_select_host_and_group_of_one_name(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "hosts.ini", "[web]\nother\n[x]\nweb\n")
    # A plain host name is taken as the host ...
    assert names(inv.select("web")) == ["web"]
    # ... but as a group when it is not a plain pattern; a plain word then matches no host.
    assert names(inv.select("all:!web")) == ["web"]
    assert names(inv.select("all:!web*")) == []


def test_unmatched_patterns() -> None:
    inv = load_inventory(DATA / "ini_fleet" / "hosts")
    assert inv.unmatched("gpu:nope:!nada*") == ("nope", "nada*")
    assert inv.unmatched("gpu,nope:!nada*") == ("nope:!nada*",)  # with commas, colons do not split
    assert inv.unmatched(None) == ()


@pytest.mark.parametrize("limit", ["~node(", "a100[20]"])
def test_bad_limits(limit: str) -> None:
    inv = load_inventory(DATA / "ini_fleet" / "hosts")
    with pytest.raises(UsageError):
        inv.select(limit)


@pytest.mark.parametrize(("limit", "expected"), [
    ("a,b", ["a", "b"]),
    (" a , b ,", ["a", "b"]),
    ("a:b", ["a", "b"]),
    ("gpu:&prod:!node02", ["gpu", "&prod", "!node02"]),
    ("node[1:3]", ["node[1:3]"]),
    ("node[1:3]:web", ["node[1:3]", "web"]),
    ("::1", ["::1"]),
    ("10.0.0.1:22", ["10.0.0.1:22"]),
    ("~db.*,web", ["~db.*", "web"]),
])
def test_split_patterns(limit: str, expected: list[str]) -> None:
    assert split_patterns(limit) == expected


# --------------------------------------------------------------------------------------------------
# Output


def test_to_list_json_shape() -> None:
    out = load_inventory(DATA / "yaml_nested" / "fleet.yml").to_list_json()
    json.dumps(out)
    assert out["all"] == {"children": ["ungrouped", "gpu", "storage", "empty_group"]}
    assert "empty_group" not in out
    assert out["gpu"] == {"children": ["a100", "h100"]}
    assert out["ungrouped"] == {"hosts": ["bastion.example.net"]}
    hostvars = out["_meta"]["hostvars"]
    assert hostvars["gpu-a100-01"]["ansible_password"] == MASK
    assert hostvars["gpu-h100-02"]["ansible_become_password"] == MASK
    assert hostvars["gpu-h100-02"]["nested"] == {"db_password": MASK, "user": "admin"}
    assert hostvars["gpu-h100-01"]["rack"] == "r2"


def test_to_list_json_limit_keeps_parents_listing_empty_children() -> None:
    out = load_inventory(DATA / "yaml_nested" / "fleet.yml").to_list_json("h100_nvl")
    assert out["all"] == {"children": ["ungrouped", "gpu", "storage", "empty_group"]}
    assert out["gpu"] == {"children": ["a100", "h100"]}
    assert "a100" not in out and "ungrouped" not in out
    assert out["h100_nvl"] == {"hosts": ["gpu-h100-nvl-a", "gpu-h100-nvl-b", "gpu-h100-nvl-c"]}
    assert sorted(out["_meta"]["hostvars"]) == ["gpu-h100-nvl-a", "gpu-h100-nvl-b", "gpu-h100-nvl-c"]


def test_to_list_json_all_lists_ungrouped_even_when_empty(tmp_path: Path) -> None:
    out = load_text(tmp_path, "hosts.ini", "[gpu]\nnode1\n").to_list_json()
    assert out == {"all": {"children": ["ungrouped", "gpu"]}, "gpu": {"hosts": ["node1"]}, "_meta": {"hostvars": {}}}


def test_to_graph() -> None:
    inv = load_inventory(DATA / "precedence" / "inventory.ini")
    assert inv.to_graph() == textwrap.dedent("""\
        @all:
          |--@ungrouped:
          |--@parent:
          |  |--@child:
          |  |  |--h1
          |  |  |--h2
          |--@zeta:
          |  |--h1
          |  |--h2
          |--@alpha:
          |  |--h1
          |  |--h2
          |--@low:
          |  |--h3
          |--@high:
          |  |--h3""")
    assert inv.to_graph("child") == "@child:\n  |--h1\n  |--h2"
    assert inv.to_graph("parent", limit="h2") == "@parent:\n  |--@child:\n  |  |--h2"
    with pytest.raises(KeyError):
        inv.to_graph("nope")


def test_to_graph_vars_are_masked() -> None:
    graph = load_inventory(DATA / "ini_fleet" / "hosts").to_graph("a100", show_vars=True)
    assert "  |  |--{ansible_password = ********}" in graph
    assert "  |  |--{ansible_ssh_pass = ********}" in graph
    assert "  |  |--{become_secret = ********}" in graph
    assert "p@ss" not in graph and "plain-text-password" not in graph and "hunter2" not in graph
    assert "  |--{ollama_url = http://localhost:11434}" in graph


@pytest.mark.parametrize(("name", "secret"), [
    ("ansible_password", True),
    ("ansible_ssh_pass", True),
    ("ansible_become_password", True),
    ("ansible_become_pass", True),
    ("db_PASSWORD", True),
    ("ldap_passwd", True),
    ("client_secret", True),
    ("api-key", True),  # a header's or flag's spelling
    ("X-Auth-Token", True),
    ("ansible_user", False),
    ("ansible_ssh_private_key_file", False),
    ("passes", False),
])
def test_is_secret(name: str, secret: bool) -> None:
    assert is_secret(name) is secret


def test_mask_secrets_nested_and_vaulted() -> None:
    assert mask_secrets({"a": 1, "ansible_ssh_pass": "x", "db": {"password": "y", "list": [{"secret": 1}]},
                         "v": Vaulted("$ANSIBLE_VAULT")}) == \
        {"a": 1, "ansible_ssh_pass": MASK, "db": {"password": MASK, "list": [{"secret": MASK}]}, "v": MASK}


@pytest.mark.parametrize(("value", "masked"), [
    ("https://ops:hunter2@hooks.example/notify", f"https://{MASK}@hooks.example/notify"),
    ("https://ghp_abc123@github.com/lab/repo.git", f"https://{MASK}@github.com/lab/repo.git"),
    ("https://chat.example/hook?room=gpu&token=hunter2", f"https://chat.example/hook?room=gpu&token={MASK}"),
    ("https://s3.example/b?X-Amz-Date=1&X-Amz-Signature=hunter2", f"https://s3.example/b?X-Amz-Date=1&X-Amz-Signature={MASK}"),
    ("https://maps.example/api?key=hunter2;lang=en", f"https://maps.example/api?key={MASK};lang=en"),
    ("ssh://ops:hunter2@bastion", f"ssh://{MASK}@bastion"),
    ("ssh://ops@bastion", "ssh://ops@bastion"),  # a user alone, outside HTTP, is only a user
    ("http://localhost:11434", "http://localhost:11434"),
    ("rack=a1", "rack=a1"),
])
def test_credentials_in_urls_are_masked_whatever_the_variable(value: str, masked: str) -> None:
    assert mask_secrets({"alert_webhook": value, "nested": [{"url": value}]}) == \
        {"alert_webhook": masked, "nested": [{"url": masked}]}


def test_inventory_list_masks_a_webhook_url(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "hosts.ini", "[gpu]\nnode1 hook=https://ops:hunter2@hooks.example/x?token=t0ken\n")
    shown = json.dumps(inv.to_list_json())
    assert "hunter2" not in shown and "t0ken" not in shown
    assert f"https://{MASK}@hooks.example/x?token={MASK}" in shown


# --------------------------------------------------------------------------------------------------
# Targets


def host(**variables: Any) -> Host:
    return Host(name="node1", vars=variables, groups=())


def test_target_defaults() -> None:
    target = target_for(host())
    assert (target.address, target.port, target.user, target.connection, target.proxy_jump) == \
        ("node1", None, None, "ssh", None)
    assert target.host_key_checking is None


def test_target_from_inventory() -> None:
    inv = load_inventory(DATA / "ini_fleet" / "hosts")
    target = target_for(inv.host("node01"))
    assert target.user == "ml"
    # host_vars/node01 sets ansible_password, [all:vars] ansible_ssh_pass. Ansible reads the aliases
    # in a fixed order and the last one set wins, however specific the other.
    assert target.password == "plain-text-password"
    assert target.proxy_command == "ssh -W %h:%p -q ops@jump.example.net"
    assert target.proxy_jump is None
    assert target_for(inv.host("workstation")).connection == "local"
    assert target_for(inv.host("2001:db8::10")).port == 2222


def test_target_repr_hides_secrets() -> None:
    target = target_for(host(ansible_password="hunter2", ansible_user="ops"))
    assert target.password == "hunter2"
    assert "hunter2" not in repr(target)
    assert "ops" in repr(target)


def test_target_fields() -> None:
    target = target_for(host(ansible_host="10.0.0.5", ansible_port="2222", ansible_user="ops",
                             ansible_ssh_private_key_file="~/.ssh/id_fleet",
                             ansible_python_interpreter="/usr/bin/python3", ansible_host_key_checking="no"))
    assert target.address == "10.0.0.5"
    assert target.port == 2222
    assert target.key_file == str(Path("~/.ssh/id_fleet").expanduser())
    assert target.python == "/usr/bin/python3"
    assert target.host_key_checking is False


def test_target_last_listed_alias_wins() -> None:
    # As ansible-core's config manager: ansible_ssh_host is listed after ansible_host.
    assert target_for(host(ansible_host="a", ansible_ssh_host="b")).address == "b"
    assert target_for(host(ansible_password="a", ansible_ssh_pass="b")).password == "b"


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("yes", True), ("True", True), (1, True), ("off", False), (False, False), ("0", False),
])
def test_target_host_key_checking(value: Any, expected: bool) -> None:
    assert target_for(host(host_key_checking=value)).host_key_checking is expected


@pytest.mark.parametrize(("args", "jump", "command"), [
    ("-J ops@bastion", "ops@bastion", None),
    ("-Jops@bastion:2200", "ops@bastion:2200", None),
    ("-o ProxyJump=ops@bastion", "ops@bastion", None),
    ("-oProxyJump=bastion", "bastion", None),
    ("-o 'ProxyJump bastion'", "bastion", None),
    ("-o proxyjump=a,b -J c", "a,b", None),  # ssh keeps the first value
    ("-o StrictHostKeyChecking=no -o ProxyJump=none", None, None),
    ('-o ProxyCommand="ssh -W %h:%p -q bastion"', None, "ssh -W %h:%p -q bastion"),
    ("-o ServerAliveInterval=30", None, None),
])
def test_target_proxy_parsing(args: str, jump: str | None, command: str | None) -> None:
    target = target_for(host(ansible_ssh_common_args=args))
    assert (target.proxy_jump, target.proxy_command) == (jump, command)
    assert target.ssh_common_args == args


@pytest.mark.parametrize(("variables", "message"), [
    ({"ansible_port": "ssh"}, "'ansible_port' must be a port number"),
    ({"ansible_host_key_checking": "maybe"}, "must be a boolean"),
    ({"ansible_ssh_common_args": "-o 'ProxyJump x"}, "not a valid shell word list"),
    ({"ansible_host": "{{ inventory_hostname }}.example.net"}, "'ansible_host' is a Jinja template"),
    ({"ansible_password": "{{ vault_pw }}"}, r"'ansible_password' is a Jinja template \(\*{8}\)"),
])
def test_target_bad_values(variables: dict[str, Any], message: str) -> None:
    with pytest.raises(InventoryError, match=message):
        target_for(host(**variables))


# --------------------------------------------------------------------------------------------------
# The examples shipped for users


@pytest.mark.parametrize("path", ["lab.yml", "prod/hosts.ini"])
def test_examples_load_cleanly(path: str) -> None:
    inv = load_inventory(EXAMPLES / path)
    assert inv.warnings == ()
    assert inv.hosts
    for h in inv.hosts:
        target = target_for(h)
        assert "flockops_warn_temp" in h.vars and "flockops_crit_temp" in h.vars
        assert target.connection == "local" or target.proxy_jump or target.user


def test_example_prod_details() -> None:
    inv = load_inventory(EXAMPLES / "prod" / "hosts.ini")
    selected = names(inv.select("gpu:!maintenance"))
    assert "gpu-h100-03.dc1.example.com" not in selected
    assert len(selected) == 8 + 8 + 4 - 1
    h100 = target_for(inv.host("gpu-h100-01.dc1.example.com"))
    assert h100.proxy_jump == "deploy@bastion.dc1.example.com:2200"
    assert h100.user == "deploy"
    assert h100.vars["flockops_crit_temp"] == 90
    assert target_for(inv.host("gpu-a100-15.dc1.example.com")).port == 2222
    assert inv.host("infer-1.dc1.example.com").vars["ollama_url"] == "http://infer-1.dc1.example.com:11500"


@pytest.mark.parametrize(("files", "needs_yaml"), [
    ({"hosts.ini": "[gpus]\nnode[01:03] ansible_host=10.0.0.1\n[gpus:vars]\nansible_port=2222\n"}, False),
    ({"hosts.ini": "[gpus]\nnode01\n", "group_vars/gpus.yml": "ansible_user: ml\n"}, True),
    ({"hosts.yml": "gpus:\n  hosts:\n    node01:\n"}, True),
])
def test_pyyaml_is_imported_only_for_yaml_files(tmp_path: Path, files: dict[str, str], needs_yaml: bool) -> None:
    """PyYAML is slow to import: an INI inventory without YAML files goes without it."""
    import subprocess
    import sys

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    inventory = tmp_path / next(iter(files))
    code = ("import sys; from pathlib import Path; from flockops.inventory.loader import load_inventory; "
            f"inv = load_inventory(Path({str(inventory)!r})); print(len(inv.hosts), 'yaml' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    hosts = 3 if "node[01:03]" in files.get("hosts.ini", "") else 1
    assert done.stdout.split() == [str(hosts), str(needs_yaml)]


@pytest.mark.parametrize("port", ["99999999", "65536", "0", "-1", "22.5"])
def test_a_port_out_of_range_is_an_inventory_error(tmp_path: Path, port: str) -> None:
    from flockops.remote.settings import target_for

    inv = load_text(tmp_path, "hosts.ini", f"[gpu]\nnode1 ansible_host=127.0.0.1 ansible_port={port}\n")
    with pytest.raises(InventoryError, match=r"must be a port number \(1 to 65535\)"):
        target_for(inv.hosts[0])


def test_a_huge_host_range_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="names 100,000,000 hosts"):
        load_text(tmp_path, "hosts.ini", "[gpu]\nnode[1:100000000]\n")
    with pytest.raises(InventoryError, match="name more than 100,000 hosts"):
        load_text(tmp_path, "hosts.ini", "[gpu]\nn[1:1500]-[1:1500]\n")


def test_a_limit_that_would_select_everything_by_accident_is_refused(tmp_path: Path) -> None:
    inv = load_text(tmp_path, "hosts.ini", "[gpu]\nh1\nh2\n[cpu]\nc1\n")
    with pytest.raises(UsageError, match="empty ~regex"):
        inv.select("~[unclosed")
    assert inv.unmatched("gpu:nomatch") == ("nomatch",)



@pytest.mark.parametrize("secret", [
    "api_tokens:\n- first\n- *hunter2\n",                          # an indentless list under the key
    "api_tokens:\n    - ok\n    - !hunter2 x\n",
    "node1: {\n  ansible_password:\n  # c\n  *hunter2 }\n",        # a flow mapping over lines
    "api_tokens: [first,\n  # c\n  *hunter2]\n",
    "ansible_password: !!int a'b\"hunter2\n",                      # quotes of both kinds in the value
])
def test_a_broken_variables_file_that_sets_a_secret_quotes_none_of_it(tmp_path: Path, secret: str) -> None:
    inventory = write(tmp_path, "hosts.yml", "all:\n  hosts:\n    node1:\n")
    write(tmp_path, "group_vars/all.yml", secret)
    with pytest.raises(InventoryError) as caught:
        load_inventory(inventory)
    assert "hunter2" not in str(caught.value) and "the value is hidden" in str(caught.value)


def test_a_secret_in_a_variables_file_that_does_not_fit_its_tag_is_hidden(tmp_path: Path) -> None:
    inventory = write(tmp_path, "hosts.yml", "all:\n  hosts:\n    node1:\n")
    write(tmp_path, "group_vars/all.yml", "ansible_password: !!bool hunter2\n")
    with pytest.raises(InventoryError) as caught:
        load_inventory(inventory)
    assert "hunter2" not in str(caught.value) and "the value is hidden" in str(caught.value)


def test_no_source_at_all_is_an_inventory_error() -> None:
    with pytest.raises(InventoryError, match="no inventory source given"):
        load_inventory([])
