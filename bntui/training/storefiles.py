"""Files of the program store (`$BNTUI_PROGRAM_CACHE_DIR`): written whole or not at all, and
the least recently used of a kind removed beyond a count, so that many experiments cannot
fill a disk.

Imported only inside JAX worker processes (by the store's modules).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes | bytearray) -> bool:
    """Write `data` to `path` through a temporary file; False when the folder refuses."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)  # a partial file (disk full) is not left behind
        return False
    return True


def mark_used(path: Path) -> None:
    """Note that `path` was just used: it is removed last (`prune_oldest`)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def prune_oldest(directory: Path, pattern: str, keep: int) -> None:
    """Remove all but the `keep` most recently used files of `directory` matching `pattern`."""
    with contextlib.suppress(OSError):
        kept = sorted(directory.glob(pattern), key=lambda p: p.stat().st_mtime)
        for path in kept[: max(0, len(kept) - keep)]:
            path.unlink(missing_ok=True)
