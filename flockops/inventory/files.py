"""Reading an inventory's files: regular files of a sane size, in UTF-8, or one InventoryError."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from flockops.errors import InventoryError

# Far above any real inventory (50,000 hosts in INI take about 2 MiB).
MAX_FILE_BYTES = 64 << 20


def read_text_file(path: Path, what: str) -> str:
    """A text file's contents, refused with an InventoryError naming it when it is not a regular file
    (``-i /dev/zero`` would be read for ever), is larger than an inventory can be, or is not UTF-8."""
    shown = str(path)
    try:
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise InventoryError(f"not a regular file: give the {what} file itself", shown)
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InventoryError(f"{what} file not found", shown) from None
    except OSError as exc:
        raise InventoryError(f"cannot read {what}: {exc.strerror or exc}", shown) from None
    if len(data) > MAX_FILE_BYTES:
        raise InventoryError(f"larger than {MAX_FILE_BYTES >> 20} MiB: not an {what} file", shown)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InventoryError(f"cannot read {what}: not UTF-8 ({exc.reason} at byte {exc.start})", shown) from None
