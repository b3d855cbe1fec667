"""Stand-ins for modules nobody uses on a run (flockops.deferred), each checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=REPO, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_probe_imports_leave_inspect_and_ctypes_util_unloaded() -> None:
    out = run("""
        import sys
        from flockops import deferred
        deferred.install(deferred.PROBE)
        import flockops.model, flockops.collect
        deferred.install(deferred.PYNVML)
        import pynvml
        real = [n for n in ("inspect", "ctypes.util", "subprocess", "tempfile", "string", "threading")
                if not isinstance(sys.modules.get(n), deferred.DeferredModule) and n in sys.modules]
        print(",".join(real) or "none")
    """)
    assert out == "none"


def test_first_use_imports_the_real_module() -> None:
    out = run("""
        import sys
        from flockops import deferred
        deferred.install(deferred.PROBE)
        deferred.install(deferred.PYNVML)
        import inspect
        from ctypes.util import find_library
        assert isinstance(inspect, deferred.DeferredModule)
        def f(a, b=2): pass
        print(inspect.signature(f))
        print(type(sys.modules["inspect"]).__name__, inspect.isfunction(f))
        print(find_library("c") is not None, type(sys.modules["ctypes.util"]).__name__)
    """)
    assert out.splitlines() == ["(a, b=2)", "module True", "True module"]


def test_pynvml_sees_the_same_capwords_and_lock() -> None:
    """pynvml names its exception classes with string.capwords and makes a threading.Lock at import:
    the stand-ins' answers must be the real ones'."""
    out = run("""
        import string, threading
        real_lock, real_capwords = type(threading.Lock()), string.capwords
        import sys
        del sys.modules["string"], sys.modules["threading"]
        from flockops import deferred
        deferred.install(deferred.PYNVML)
        import string as stand_in, threading as stand_in_threading
        cases = [("GPU_IS_LOST", "_"), ("UNKNOWN", "_"), ("ARGUMENT_VERSION_MISMATCH", "_"), ("__a__b", "_"),
                 ("  two   spaces here ", None), ("tab\\tand\\nnewline", None), ("", "_"), ("", None), ("mIxEd", "x")]
        for text, sep in cases:
            assert stand_in.capwords(text, sep) == real_capwords(text, sep), (text, sep)
        assert type(stand_in_threading.Lock()) is real_lock
        print(type(stand_in).__name__, type(stand_in_threading).__name__, len(cases))
    """)
    assert out == "DeferredModule DeferredModule 9"


def test_pynvml_error_classes_are_the_same_with_stand_ins() -> None:
    code = """
        import sys
        from flockops import deferred
        if sys.argv[1:] == ["stand-ins"]:
            deferred.install(deferred.PYNVML)
        import pynvml
        print(sorted(name for name in vars(pynvml) if name.startswith("NVMLError_")))
    """
    runs = [subprocess.run([sys.executable, "-c", textwrap.dedent(code), *arg], capture_output=True, text=True,
                           cwd=REPO, timeout=60, check=True).stdout for arg in ([], ["stand-ins"])]
    assert runs[0] == runs[1] and "NVMLError_GpuIsLost" in runs[0]


def test_dotted_stand_ins_are_reachable_from_their_package() -> None:
    """`import ctypes.util` binds ctypes and reads its attribute util: it must be the stand-in."""
    out = run("""
        from flockops import deferred
        deferred.install(deferred.PYNVML)
        deferred.install(deferred.CONTROLLER)
        import ctypes.util, importlib.metadata
        print(type(ctypes.util).__name__, type(importlib.metadata).__name__)
        print(ctypes.util.find_library("c") is not None, bool(importlib.metadata.version("pluggy")))
        print(importlib.metadata.distribution("pluggy").metadata["Name"], type(ctypes.util).__name__)  # used: real now
    """)
    assert out.splitlines() == ["DeferredModule DeferredModule", "True True", "pluggy module"]


def test_a_missing_module_stays_missing() -> None:
    out = run("""
        from flockops import deferred
        deferred.install({"no_such_module_here": ()})
        try:
            import no_such_module_here
        except ImportError:
            print("missing")
    """)
    assert out == "missing"


@pytest.mark.parametrize("matches", [True, False])
def test_paramiko_match_exec_still_runs_invoke(tmp_path: Path, matches: bool) -> None:
    """paramiko's `Match exec` needs invoke: the controller's stand-in must load it when asked."""
    config = tmp_path / "ssh_config"
    config.write_text(f'Match exec "{"true" if matches else "false"}"\n    User matched\n')
    out = run(f"""
        import sys
        import flockops.connection, paramiko
        print(type(sys.modules["invoke"]).__name__)
        found = paramiko.SSHConfig.from_path({str(config)!r}).lookup("somehost")
        print(found.get("user", "none"))
    """)
    assert out.splitlines() == ["DeferredModule", "matched" if matches else "none"]


def test_paramiko_imports_without_loading_importlib_metadata() -> None:
    out = run("""
        import sys
        import flockops.connection, paramiko
        from importlib import metadata
        print(paramiko.__version__, type(sys.modules["importlib.metadata"]).__name__, metadata.version("pluggy"))
        import importlib.metadata as real_metadata
        print(real_metadata.distribution("pluggy").metadata["Name"])  # first real use loads the real module
        print(type(sys.modules["importlib.metadata"]).__name__)
    """)
    import importlib.metadata

    assert out.splitlines() == [
        f"{importlib.metadata.version('paramiko')} DeferredModule {importlib.metadata.version('pluggy')}",
        "pluggy", "module"]


def test_dist_info_versions_match_importlib_metadata() -> None:
    """Every distribution installed here: the direct .dist-info read gives importlib.metadata's answer."""
    import importlib.metadata

    from flockops.entrypoints import distribution_version

    names = {d.metadata["Name"] for d in importlib.metadata.distributions()}
    assert len(names) > 10
    for name in sorted(names):
        assert distribution_version(name) == importlib.metadata.version(name), name
        assert distribution_version(name.upper().replace("-", "_")) == importlib.metadata.version(name), name
    assert distribution_version("no-such-distribution-here") is None
