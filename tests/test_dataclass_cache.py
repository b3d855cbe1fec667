"""The dataclass methods compiled on the controller and run by the probe (flockops.dataclass_cache),
each case in a fresh interpreter: the cache is filled at import."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# What the probe imports: every module of it that defines a dataclass.
PROBE_IMPORTS = """
    import flockops.probe_main
    from flockops.probe_main import builtin_drivers
    builtin_drivers()
"""
# Counts the texts compiled from here on (dataclass_cache compiles through the builtin).
COUNT_COMPILES = """
    import builtins
    compiled = []
    real_compile = builtins.compile
    def counting(source, filename, *args, **kwargs):
        if filename == "<string>":
            compiled.append(source)
        return real_compile(source, filename, *args, **kwargs)
    builtins.compile = counting
"""


def run(*parts: str, stdin: bytes = b"") -> str:
    code = "\n".join(textwrap.dedent(part) for part in parts)
    done = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True,
                          cwd=REPO, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().strip()


def shipped_by_a_controller() -> bytes:
    from flockops.probe import probe_zip

    archive = zipfile.ZipFile(io.BytesIO(probe_zip()))
    [member] = [n for n in archive.namelist() if n.startswith("flockops/dataclasses.code-")]
    return archive.read(member)


def test_the_probe_compiles_no_dataclass_method_with_the_shipped_code() -> None:
    code = shipped_by_a_controller()
    out = run(COUNT_COMPILES, """
        import sys
        from flockops import dataclass_cache
        dataclass_cache.install(sys.stdin.buffer.read())
    """, PROBE_IMPORTS, """
        print(len(compiled))
    """, stdin=code)
    assert out == "0"


def test_without_the_shipped_code_the_same_texts_are_compiled() -> None:
    """The counter above sees compiles: without the cache it counts one per generated method."""
    out = run(COUNT_COMPILES, PROBE_IMPORTS, """
        print(len(compiled), sum("def __init__" in text for text in compiled))
    """)
    total, inits = map(int, out.split())
    assert inits >= 11 and total >= 5 * inits


def test_classes_made_from_the_cache_behave_as_compiled_ones() -> None:
    code = shipped_by_a_controller()
    check = """
        import dataclasses, sys
        from flockops.model import DriverAttempt, GpuSample
        a = GpuSample(index=0, name="H200", vendor="nvidia", source="nvml", memory_total_bytes=1 << 30)
        b = GpuSample(index=0, name="H200", vendor="nvidia", source="nvml", memory_total_bytes=1 << 30)
        try:
            a.index = 1
        except dataclasses.FrozenInstanceError:
            frozen = True
        print(a == b, a != dataclasses.replace(b, index=1), frozen, repr(a)[:40])
        attempt = DriverAttempt("nvml", "nvidia", "used")
        print(hash(attempt) == hash(DriverAttempt("nvml", "nvidia", "used")), attempt)
        print(sorted(GpuSample.__init__.__annotations__.items())[:3])
    """
    with_cache = run("""
        import sys
        from flockops import dataclass_cache
        dataclass_cache.install(sys.stdin.buffer.read())
    """, check, stdin=code)
    assert with_cache == run(check)
    assert with_cache.startswith("True True True GpuSample(vendor='nvidia', index=0")


def test_the_hook_compiles_as_dataclasses_would_for_other_modules() -> None:
    """flockops's modules use `from __future__ import annotations`; a class of a module without it
    must keep real annotations (the compile must not inherit the hook's own future flags)."""
    out = run("""
        import dataclasses
        @dataclasses.dataclass(frozen=True)
        class Before:
            x: int
            y: str = "a"
        import flockops.model
        from flockops import dataclass_cache
        kept = len(dataclass_cache._CODE)
        @dataclasses.dataclass(frozen=True)
        class After:
            x: int
            y: str = "a"
        print(Before.__init__.__annotations__ == After.__init__.__annotations__ == {"x": int, "y": str, "return": None})
        print(After(1) == After(1), repr(After(2)))
        print(kept > 0, len(dataclass_cache._CODE) == kept)  # only flockops's own classes are kept
    """)
    assert out.splitlines() == ["True", "True After(x=2, y='a')", "True True"]
