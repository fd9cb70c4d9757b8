"""Durable storage for one node: the write-ahead log, snapshots of the applied state, the lock
that keeps a second process out of the data directory, and the VERSION file that says which storage
format the directory is in. Nothing here knows Raft's rules; the node decides what to write and when."""

from .lock import DataDirLock, DataDirLocked
from .snapshots import (
    RAFT_KEY,
    LoadedSnapshot,
    SnapshotCorruption,
    SnapshotFile,
    SnapshotStore,
    decode_snapshot,
    encode_snapshot,
)
from .version_file import VersionFile, VersionFileDamaged
from .wal import DEFAULT_SEGMENT_BYTES, Recovered, StorageError, WalCorruption, WriteAheadLog

__all__ = [
    "DEFAULT_SEGMENT_BYTES",
    "RAFT_KEY",
    "DataDirLock",
    "DataDirLocked",
    "LoadedSnapshot",
    "Recovered",
    "SnapshotCorruption",
    "SnapshotFile",
    "SnapshotStore",
    "StorageError",
    "VersionFile",
    "VersionFileDamaged",
    "WalCorruption",
    "WriteAheadLog",
    "decode_snapshot",
    "encode_snapshot",
]
