"""The data directory's ``VERSION`` file: the storage format of the newest thing in the directory.

Owns ``<data_dir>/VERSION``: one line of JSON, ``{"format": 2, "written_by": "0.2.0"}``. 0.1.0 wrote
none, so a directory without one is in format 1 (and gets a file saying so when a node first opens it).

Rules:
- read before anything else in the directory: a format newer than this todonode reads stops the node
  (``StorageTooNew``) before it has looked at, or changed, a single record;
- raised before the first byte of a newer format is written anywhere in the directory (temp file,
  fsync, rename, fsync the directory), so the file is never behind what it describes; never lowered;
- old files are never rewritten to a new format: newer records are added after them.
``require`` may be called from any thread.
"""

from __future__ import annotations

import threading
from pathlib import Path

import orjson

from ..versions import FIRST_STORAGE_FORMAT, STORAGE_FORMAT, StorageTooNew, release
from .durable import replace_durably

FILE_NAME = "VERSION"


class VersionFileDamaged(Exception):
    """A VERSION file that is not what todonode writes: the node will not guess the format."""


class VersionFile:
    def __init__(self, data_dir: Path):
        self.path = data_dir / FILE_NAME
        self._format = FIRST_STORAGE_FORMAT
        self._lock = threading.Lock()

    @property
    def format(self) -> int:
        return self._format

    def load(self) -> int:
        """The directory's format; writes the file for a directory that has none (0.1.0's, or a new one).

        Raises StorageTooNew for a format this todonode cannot read, VersionFileDamaged for a file
        that cannot be read at all."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._write(FIRST_STORAGE_FORMAT)
            return self._format
        try:
            body = orjson.loads(raw)
            found, written_by = body["format"], str(body["written_by"])
            if type(found) is not int or found < FIRST_STORAGE_FORMAT:
                raise ValueError(f"format {found!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise VersionFileDamaged(
                f"{self.path} is not a todonode VERSION file ({exc}); restore it, or move the data "
                "directory aside and start this node with an empty one to rejoin from its peers"
            ) from exc
        if found > STORAGE_FORMAT:
            raise StorageTooNew(f"data directory {self.path.parent}", found, written_by)
        self._format = found
        return found

    def require(self, storage_format: int) -> None:
        """Before anything in ``storage_format`` is written: make the file say at least that, durably."""
        assert storage_format <= STORAGE_FORMAT, "a node writes only formats it reads"
        with self._lock:
            if storage_format > self._format:
                self._write(storage_format)

    def _write(self, storage_format: int) -> None:
        replace_durably(self.path, orjson.dumps({"format": storage_format, "written_by": release()}) + b"\n")
        self._format = storage_format
