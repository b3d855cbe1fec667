"""Helpers for tests that run the real amdsmi package against the fake libamd_smi.so.

The fake is built from ``tests/support/fakeamdsmi/fake_amdsmi.c`` plus ``stubs.c``, which
``tests/support/fakeamdsmi/gen_stubs.py`` generates from the installed ``amdsmi_wrapper.py`` (the
package binds all its symbols at import). It reads the fake GPUs from the file named by
``FAKE_AMDSMI_CONFIG`` (format: ``tests/support/fakeamdsmi/FORMAT.md``). Typical use::

    root = build_fake_amdsmi(tmp_dir)            # root/lib/libamd_smi.so
    cfg = write_config(tmp_dir / "amdsmi.conf", [{"market_name": "AMD Instinct MI300X", "vram_total": 192 << 30}])
    subprocess.run(cmd, env={**os.environ, **amdsmi_env(root, cfg)})

amdsmi 7.0.2 looks for ``$ROCM_HOME/lib/libamd_smi.so`` (else ``$ROCM_PATH``), then the
loader path; :func:`amdsmi_env` sets both variables. Use subprocesses: amdsmi reads them
once, at import, and other tests assert that amdsmi was never imported in-process.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from support.nvml import CONFIG_HEADER, compile_library, config_value, fail_lines

FAKE_DIR = Path(__file__).resolve().parent / "fakeamdsmi"
SOURCE = FAKE_DIR / "fake_amdsmi.c"
GENERATOR = FAKE_DIR / "gen_stubs.py"
LIB_NAME = "libamd_smi.so"
CFLAGS = ["-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-O1", f"-Wl,-soname,{LIB_NAME}"]
# The amdsmi version the fake's structure layouts were written for (pyproject's test extra).
AMDSMI_VERSION = "7.0.2"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("fakeamdsmi_gen_stubs", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_fake_amdsmi(root: Path) -> Path:
    """Compile the fake into ``root/lib/libamd_smi.so`` (a ROCm-like tree); return ``root``.

    Skips the compile when the library is newer than its sources and the installed
    ``amdsmi_wrapper.py``. Written under a temporary name and renamed, so concurrent
    builds do not clash.
    """
    root = Path(root)
    libdir = root / "lib"
    libdir.mkdir(parents=True, exist_ok=True)
    lib = libdir / LIB_NAME
    gen = _generator()
    wrapper: Path = gen.wrapper_path()
    inputs = (SOURCE, CONFIG_HEADER, GENERATOR, wrapper)
    if lib.exists() and lib.stat().st_mtime >= max(p.stat().st_mtime for p in inputs):
        return root
    stubs = root / "stubs.c"
    stubs.write_text(gen.generate(wrapper.read_text(), gen.package_version()))
    compile_library(lib, [SOURCE, stubs], CFLAGS, "the fake libamd_smi.so")
    return root


def _scalar(key: str, value: object) -> str:
    # Temperatures may be negative here (sensors below 0 °C); every other number may not.
    return config_value(key, value, negative_ok=key.startswith("temp_"))


def write_config(path: Path, gpus: list[dict[str, Any]], **globals_: Any) -> Path:
    """Write a fake-amdsmi config file and return its path.

    ``globals_``: ``init_error`` and ``fail`` (a mapping ``{symbol: code}`` for every GPU
    and the system calls). Each GPU dict uses the config keys directly (``market_name``,
    ``vram_total``, ``temp_edge_current``, ...), ``fail`` a mapping ``{symbol: code}``. A
    value of None leaves the key out (its getter then returns NOT_SUPPORTED).
    """
    lines = ["# written by tests/support/amdsmi.py"]
    for key, value in globals_.items():
        if value is None:
            continue
        lines += fail_lines(value) if key == "fail" else [f"{key} {_scalar(key, value)}"]
    for gpu in gpus:
        lines.append("gpu")
        for key, value in gpu.items():
            if value is None:
                continue
            lines += fail_lines(value) if key == "fail" else [f"{key} {_scalar(key, value)}"]
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def amdsmi_env(root: Path, config: Path) -> dict[str, str]:
    """Environment variables that point a subprocess's amdsmi at the fake (merge into the full one)."""
    rocm = str(Path(root).resolve())
    return {"ROCM_PATH": rocm, "ROCM_HOME": rocm, "FAKE_AMDSMI_CONFIG": str(Path(config).resolve())}
