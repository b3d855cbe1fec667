"""Helpers for tests that run the real pynvml against the fake NVML library.

The fake ``libnvidia-ml.so.1`` is built from ``tests/support/fakenvml/fake_nvml.c``
and reads the fake GPUs from the file named by ``FAKE_NVML_CONFIG``
(format: ``tests/support/fakenvml/FORMAT.md``). Typical use::

    lib = build_fake_nvml(tmp_dir)
    cfg = write_config(tmp_dir / "nvml.conf", [{"name": "NVIDIA H100", "memory_total": 80 << 30}],
                       driver_version="550.54.14")
    subprocess.run(cmd, env={**os.environ, **nvml_env(lib.parent, cfg)})

In-process, call :func:`preload_fake_nvml` before pynvml's first ``nvmlInit``
and set ``FAKE_NVML_CONFIG`` in ``os.environ``; the library re-reads the config
at every ``nvmlInit``.
"""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).resolve().parent / "fakenvml" / "fake_nvml.c"
# The config reader the fake NVML and the fake libamd_smi.so both include.
CONFIG_HEADER = Path(__file__).resolve().parent / "fake_config.h"
LIB_NAME = "libnvidia-ml.so.1"
CFLAGS = ["-Wall", "-Wextra", "-shared", "-fPIC", "-O1", f"-Wl,-soname,{LIB_NAME}"]

# Keys whose value is a list of entries, one config line each.
_PROCESS_KEYS = ("process", "graphics_process")


def compile_library(lib: Path, sources: list[Path], cflags: list[str], what: str) -> None:
    """Compile ``sources`` into the shared library ``lib`` with the system C compiler.

    Written to a temporary name and renamed, so concurrent builds never see half a library.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{lib.name}.", suffix=".so", dir=lib.parent)
    os.close(fd)
    try:
        cc = os.environ.get("CC", "cc")
        result = subprocess.run([cc, *cflags, "-o", tmp_name, *map(str, sources)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"building {what} failed:\n{result.stderr}")
        os.replace(tmp_name, lib)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def build_fake_nvml(dest_dir: Path) -> Path:
    """Compile the fake library into ``dest_dir/libnvidia-ml.so.1``; return its path.

    Skips the compile when the library is newer than the C source and the shared config header. The output is
    written to a temporary name and renamed, so concurrent builds do not clash.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    lib = dest_dir / LIB_NAME
    if lib.exists() and lib.stat().st_mtime >= max(p.stat().st_mtime for p in (SOURCE, CONFIG_HEADER)):
        return lib
    compile_library(lib, [SOURCE], CFLAGS, "the fake NVML")
    return lib


def config_value(key: str, value: object, negative_ok: bool = False) -> str:
    """Render one value of a fake library's line-based config (NVML's and amdsmi's); refuse
    text that format cannot carry."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        if value < 0 and not negative_ok:
            raise ValueError(f"{key}: negative numbers are not allowed: {value}")
        return str(value)
    text = str(value)
    if not text.strip() or "\n" in text or "\r" in text:
        raise ValueError(f"{key}: value must be a non-empty single line: {text!r}")
    if re.search(r"(^|\s)#", text):
        raise ValueError(f"{key}: ' #' would start a comment: {text!r}")
    return text.strip()


def _process_line(key: str, entry: tuple[int, int | str | None]) -> str:
    """``(pid, used_bytes)``; used_bytes None or "na" means NVML_VALUE_NOT_AVAILABLE."""
    pid, used = entry
    used_text = "na" if used is None or used == "na" else config_value(key, used)
    return f"{key} {config_value(key, pid)} {used_text}"


def _mig_line(mig: Mapping[str, object]) -> str:
    fields = []
    for key, value in mig.items():
        if value is None:
            continue
        text = config_value(key, value)
        if ";" in text or "=" in text:
            raise ValueError(f"mig {key}: value may not contain ';' or '=': {text!r}")
        fields.append(f"{key}={text}")
    return "mig " + "; ".join(fields)


def fail_lines(fail: Mapping[str, int] | Iterable[tuple[str, int]]) -> list[str]:
    items = fail.items() if isinstance(fail, Mapping) else fail
    return [f"fail {config_value('fail', symbol)} {config_value('fail', code)}" for symbol, code in items]


def write_config(path: Path, gpus: list[dict[str, Any]], **globals: Any) -> Path:
    """Write a fake-NVML config file and return its path.

    ``globals`` are the global keys (``init_error``, ``driver_version``,
    ``cuda_driver_version``, ``nvml_version``) plus ``fail``: a mapping
    ``{symbol: code}`` applied to every device.

    Each GPU dict uses the config keys directly (``name``, ``memory_total``, ...).
    Repeated keys take lists: ``process`` / ``graphics_process`` are lists of
    ``(pid, used_bytes)`` (``used_bytes`` None means "not available"), ``mig``
    is a list of dicts with the same keys, ``fail`` a mapping ``{symbol: code}``.
    A value of None leaves the key out (its getter then reports NOT_SUPPORTED).
    """
    lines = ["# written by tests/support/nvml.py"]
    for key, value in globals.items():
        if value is None:
            continue
        if key == "fail":
            lines += fail_lines(value)
        else:
            lines.append(f"{key} {config_value(key, value)}")
    for gpu in gpus:
        lines.append("gpu")
        for key, value in gpu.items():
            if value is None:
                continue
            if key in _PROCESS_KEYS:
                lines += [_process_line(key, entry) for entry in value]
            elif key == "mig":
                lines += [_mig_line(mig) for mig in value]
            elif key == "fail":
                lines += fail_lines(value)
            else:
                lines.append(f"{key} {config_value(key, value)}")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def nvml_env(libdir: Path, config: Path) -> dict[str, str]:
    """Environment variables that point a subprocess's pynvml at the fake.

    Merge into the full environment: ``{**os.environ, **nvml_env(...)}``. Any
    existing ``LD_LIBRARY_PATH`` is kept after the fake's directory.
    """
    existing = os.environ.get("LD_LIBRARY_PATH", "")
    ld_path = str(Path(libdir).resolve()) + (os.pathsep + existing if existing else "")
    return {"LD_LIBRARY_PATH": ld_path, "FAKE_NVML_CONFIG": str(Path(config).resolve())}


def preload_fake_nvml(lib: Path) -> ctypes.CDLL:
    """Load the fake into this process so pynvml's ``CDLL("libnvidia-ml.so.1")`` finds it.

    The dynamic loader matches the already-loaded library by its soname. Must
    happen before pynvml loads any other libnvidia-ml (pynvml keeps the first).
    """
    return ctypes.CDLL(str(Path(lib).resolve()), mode=ctypes.RTLD_GLOBAL)
