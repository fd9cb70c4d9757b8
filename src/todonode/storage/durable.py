"""Replacing a small file so that a crash leaves either the old contents or the new, never a mix: a
temporary file, fsync'd, renamed over the old one, then the directory fsync'd. Private from creation,
like everything in the data directory (privacy.py)."""

from __future__ import annotations

import os
from pathlib import Path

from ..privacy import PRIVATE_FILE


def replace_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make the names in ``directory`` durable: a file created or renamed there is found after a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
