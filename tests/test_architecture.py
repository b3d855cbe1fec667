"""The house rules that docs/architecture.md states, read from the code itself.

- ``flockops/agent`` is what runs on a target: it imports only itself, ``flockops.errors``, the
  standard library and vendor bindings.
- Imports point one way: cli -> api -> the packages in between -> agent -> errors (and userdirs).
- No module imports itself back through another (no cycles), and no module is much past 600 lines.
- Importing flockops, calling its API or running its CLI leaves the standard library as it was.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.paths import REPO

PACKAGE = REPO / "flockops"
VENDOR_BINDINGS = frozenset({"pynvml", "amdsmi"})
# The packages between the api and the agent: what each may import besides the agent and the leaves.
MIDDLE = ("plugins", "inventory", "remote", "ollama", "engines", "render", "check", "history", "watch", "serve")
LEAVES = frozenset({"flockops.errors", "flockops.userdirs"})
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


MODULES = modules()


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports(path: Path, with_type_checking: bool = True) -> Iterator[str]:
    """Every module ``path`` imports, at any depth of its code, resolved to absolute names (for
    ``from X import Y`` both X and X.Y: Y may be a submodule)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    if not with_type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and _is_type_checking(node):
                skipped.update(id(n) for child in node.body for n in ast.walk(child))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            submodules = [f"{source}.{alias.name}" for alias in node.names]
            yield from submodules
            if not all(s in MODULES for s in submodules):  # `from . import x` needs x, not the package's code
                yield source


def known(names: Iterator[str], mods: dict[str, Path]) -> set[str]:
    """The flockops modules among ``names`` (a name that is an attribute, not a module, drops out)."""
    return {n for n in names if n in mods}


def layer(name: str) -> tuple[int, str]:
    """(rank, home) of a flockops module: leaves 0, agent 1, the packages between 2, api 3, cli 4."""
    if name in LEAVES:
        return 0, name
    parts = name.split(".")
    home = parts[1] if len(parts) > 1 else ""
    if home == "agent":
        return 1, "agent"
    if home in MIDDLE:
        return 2, home
    if name == "flockops.api":
        return 3, "api"
    if home == "cli" or name == "flockops.__main__":
        return 4, "cli"
    return -1, name  # the package facade (flockops/__init__.py): lazy, above everything


def test_the_agent_imports_only_itself_errors_the_standard_library_and_vendor_bindings() -> None:
    """It travels to every target whole: anything else would fail there, or ship the controller."""
    bad = []
    for name, path in modules().items():
        if not name.startswith("flockops.agent"):
            continue
        for imported in imports(path):
            top = imported.split(".")[0]
            if imported.startswith("flockops."):
                ok = imported.startswith("flockops.agent") or imported.startswith("flockops.errors")
            else:
                ok = top in sys.stdlib_module_names or top in VENDOR_BINDINGS or imported == "flockops"
            if not ok:
                bad.append(f"{name} imports {imported}")
    assert bad == []


def test_imports_point_one_way() -> None:
    mods = modules()
    bad = []
    for name, path in mods.items():
        rank, home = layer(name)
        if rank < 0:
            continue
        for imported in known(imports(path), mods):
            their_rank, their_home = layer(imported)
            if their_rank < 0:
                continue  # `from flockops import __version__`: the facade's constant
            if their_rank > rank or (their_rank == rank and rank not in (0, 2) and their_home != home):
                bad.append(f"{name} ({home}) imports {imported} ({their_home})")
    assert bad == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycles_between_modules_or_between_packages() -> None:
    """Runtime imports only: an annotation's ``if TYPE_CHECKING:`` import loads nothing."""
    mods = modules()
    graph = {name: known(imports(path, with_type_checking=False), mods) - {name, "flockops"}
             for name, path in mods.items() if name != "flockops"}
    # A package's own __init__ imports nothing of its package: submodules would else "cycle" through it.
    assert _cycle(graph) is None
    packages: dict[str, set[str]] = {}
    for name, deps in graph.items():
        home = layer(name)[1]
        packages.setdefault(home, set()).update(layer(d)[1] for d in deps if layer(d)[1] != home)
    assert _cycle(packages) is None, packages


def test_no_module_is_much_past_600_lines() -> None:
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_rules_see_real_imports() -> None:
    """The readers above must not pass by reading nothing."""
    mods = modules()
    assert len(mods) > 50
    assert "flockops.agent.model" in known(imports(mods["flockops.agent.chain"]), mods)
    assert "flockops.errors" in known(imports(mods["flockops.agent.driver"]), mods)
    assert layer("flockops.remote.fleet") == (2, "remote") and layer("flockops.cli.report") == (4, "cli")
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


# --- no patched standard library ------------------------------------------------------------------

SNAPSHOT = textwrap.dedent("""
    import importlib, json, pkgutil, sys, types
    # The standard modules flockops or its dependencies touch, imported first so that any change to
    # them afterwards shows (a module imported later is checked for being a real module instead).
    WATCHED = ["dataclasses", "inspect", "ctypes", "ctypes.util", "string", "threading", "importlib",
               "importlib.util", "importlib.metadata", "json", "re", "subprocess", "socket", "logging",
               "sqlite3", "argparse", "enum", "functools", "os", "io", "builtins", "types", "typing",
               "urllib.request", "http.client", "zipfile", "marshal", "signal", "ssl", "selectors"]
    for name in WATCHED:
        importlib.import_module(name)
    def snapshot():
        return {name: {k: id(v) for k, v in vars(sys.modules[name]).items()} for name in WATCHED}
    before = snapshot()
    objects = {name: id(sys.modules[name]) for name in WATCHED}
    before_modules = set(sys.modules)

    import flockops
    for info in pkgutil.walk_packages(flockops.__path__, "flockops."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    EXERCISE

    after = snapshot()
    changed = {}
    for name in WATCHED:
        if id(sys.modules[name]) != objects[name]:
            changed[name] = "replaced in sys.modules"
            continue
        module = sys.modules[name]
        for key in set(before[name]) | set(after[name]):
            if before[name].get(key) == after[name].get(key):
                continue
            value = getattr(module, key, None)
            # Importing a submodule sets it on its package: that is the import system, not a patch.
            if key not in before[name] and isinstance(value, types.ModuleType) and value.__name__ == f"{name}.{key}":
                continue
            changed[f"{name}.{key}"] = "changed" if key in before[name] else "added"
    # A stand-in: a module object whose class flockops defined, or a standard module the import
    # system did not load (no spec). The standard library's own aliases (os.path is posixpath) pass.
    stand_ins = sorted(
        name for name, module in list(sys.modules.items())
        if module is not None and (type(module).__module__.startswith("flockops")
                                   or (name.split(".")[0] in sys.stdlib_module_names
                                       and isinstance(module, types.ModuleType)
                                       and getattr(module, "__spec__", None) is None)))
    print(json.dumps({"changed": changed, "stand_ins": stand_ins,
                      "imported": sorted(set(sys.modules) - before_modules)}))
""")


def _run_snapshot(exercise: str, tmp_path: Path) -> dict[str, object]:
    code = SNAPSHOT.replace("EXERCISE", textwrap.indent(textwrap.dedent(exercise), "").strip())
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "FLOCKOPS_SYSFS_ROOT": str(tmp_path / "no-sysfs"),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("exercise", [
    # The API on this machine (no GPU here) and over SSH to a port nothing listens on.
    """
    from pathlib import Path
    report = flockops.collect_report(local_ollama=False)
    assert report.hosts[0].host == "localhost"
    Path("hosts.ini").write_text("gpu ansible_host=127.0.0.1 ansible_port=1\\n")
    fleet = flockops.collect_report(inventory="hosts.ini", timeout_s=5, local_ollama=False)
    assert fleet.hosts[0].status == "unreachable", fleet
    """,
    # The CLI in-process, as the command runs it.
    """
    import contextlib, io
    import flockops.cli
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert flockops.cli.main(["report", "-o", "json", "--no-ollama"]) == 0
        assert flockops.cli.main(["report", "--no-ollama"]) == 0
        assert flockops.cli.main(["drivers"]) == 0
        assert flockops.cli.main(["check", "--no-ollama"]) == 3  # no GPU here: UNKNOWN
    """,
], ids=["api", "cli"])
def test_flockops_leaves_the_standard_library_as_it_was(exercise: str, tmp_path: Path) -> None:
    result = _run_snapshot(exercise, tmp_path)
    assert result["changed"] == {}
    assert result["stand_ins"] == []
    assert "paramiko" in result["imported"] or "flockops.cli" in result["imported"]  # the exercise ran


def test_the_snapshot_sees_a_patch(tmp_path: Path) -> None:
    """What the rule above forbids, done on purpose: it must be seen."""
    result = _run_snapshot("""
    import dataclasses, sys, types
    dataclasses.exec = exec
    sys.modules["inspect"] = types.ModuleType("inspect")
    sys.modules["tomllib"] = types.ModuleType("tomllib")
    """, tmp_path)
    assert result["changed"] == {"dataclasses.exec": "added", "inspect": "replaced in sys.modules"}
    assert "tomllib" in result["stand_ins"]
