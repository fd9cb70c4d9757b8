"""What only the node's own user may read: its data directory, the files in it, its secrets and its
private key.

Everything a node creates in its data directory is made private when it is created (``PRIVATE_DIR``,
``PRIVATE_FILE``), never tightened afterwards: there is no moment in which another local user could
open it. What the node is given (a data directory made by someone else, a secret file, a key) is
checked instead, and refused when other users may read it, with the command that fixes it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def make_private(tree: Path) -> int:
    """Close ``tree`` (a directory) and everything in it to everyone but the owner; returns how many
    modes changed. Only for a data directory written before todonode made everything private."""
    changed = 0
    for path in [tree, *tree.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        private = mode & ~_OTHERS & (PRIVATE_DIR if path.is_dir() else PRIVATE_FILE)
        if private != mode:
            path.chmod(private)
            changed += 1
    return changed


def exposure(path: Path) -> str | None:
    """None when only the owner may use ``path`` (or it does not exist), else one line saying who else
    may and how to stop that."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    if not mode & _OTHERS:
        return None
    fix = f"chmod {PRIVATE_DIR if stat.S_ISDIR(mode) else PRIVATE_FILE:o} {path}"
    who = "other users" if mode & stat.S_IRWXO else "its group"
    return f"{path} is open to {who} (mode {stat.S_IMODE(mode):04o}); make it private: {fix}"
