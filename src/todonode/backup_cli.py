"""``todonode backup`` and ``todonode restore``: a backup file from a running cluster, and a new cluster
from a backup file (storage/backup_file.py says what the file holds).

``backup --out FILE`` streams ``GET /backup`` (administration: the admin token or the cluster's
credentials, as ``todonode cluster`` commands send them) into ``FILE.tmp``, and only once the whole
file is there, fsync'd and verified (magic, format, length, checksum) does it take the name ``FILE``.
A download that breaks off, or that does not verify, leaves no ``FILE``, and an existing ``FILE`` is
kept unless ``--force``.

``restore FILE --config CONFIG`` verifies the file, then makes the config's data directory, which must
be empty or missing, the one member of a new cluster holding the file's state (storage/new_cluster.py).
The other nodes join it with ``[cluster] join``, as any new node joins a cluster.

Problems a user can fix are one line on stderr: exit 1 for a refused file, a failed download or a
non-empty data directory, 2 for a bad command line or config. Progress goes to stderr when it is a
terminal; the summary line is always printed.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .client import Client, ClientError, _http_error, _print_json, common_options, escaped

if TYPE_CHECKING:
    from .storage.backup_file import AtomicFile, BackupHeader

# The storage modules are imported by the commands that use them: every other command of the
# ``todonode`` client starts without them (cli.py).

MEDIA_TYPE = "application/x-todonode-backup"  # what GET /backup answers (storage/backup_file.py)
BLOCK = 1024 * 1024
PROGRESS_EVERY_S = 0.25


def add_commands(subparsers: Any) -> None:
    """``backup`` and ``restore``, on the ``todonode`` parser's subparsers."""
    backup = subparsers.add_parser(
        "backup", parents=[common_options()], help="download a backup of the cluster's tasks into a file"
    )
    backup.add_argument("--out", "-o", required=True, metavar="FILE", help="the file to write")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    backup.set_defaults(run=_backup)
    restore = subparsers.add_parser(
        "restore", help="start a new cluster from a backup: its first member is the node of --config"
    )
    restore.add_argument("file", metavar="FILE", help="a file made by `todonode backup`")
    restore.add_argument("--config", "-c", required=True, help="the config of the node to restore into")


def _backup(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    from .storage.backup_file import AtomicFile, BackupRefused

    path = Path(args.out)
    if path.exists() and not args.force:
        raise ClientError(f"{path} exists; pass --force to replace it, or name another file")
    started = time.monotonic()
    url, response = _open_backup(client)
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    try:
        with response, AtomicFile(path, replace=args.force) as file:
            _download(url, path, response, file, progress)
            header = file.commit()
    except BackupRefused as exc:
        raise ClientError(
            f"the backup {url} sent does not verify ({exc.fault}); {path} was not written"
        ) from None
    except FileExistsError:
        raise ClientError(f"{path} appeared while the backup was downloaded; it was left as it is") from None
    except OSError as exc:
        raise ClientError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if progress is not None:
            progress.done()
    if args.json:
        _print_json(out, {"file": str(path), "bytes": path.stat().st_size, **header_fields(header)})
        return
    took = time.monotonic() - started
    out(f"wrote {path}: {_summary(header)}, {path.stat().st_size / 1e6:.1f} MB in {took:.1f} s from {url}")


def _open_backup(client: Client) -> tuple[str, http.client.HTTPResponse]:
    """The response of the first node that answers ``GET /backup``, and its URL."""
    headers = {"Accept": MEDIA_TYPE}
    if client.admin:
        headers["Authorization"] = f"Bearer {client.admin}"
    unreachable = []
    for url in client.urls:
        request = urllib.request.Request(url + "/backup", headers=headers)
        try:
            response: http.client.HTTPResponse = urllib.request.urlopen(
                request, timeout=client.timeout, context=client.tls
            )
        except urllib.error.HTTPError as exc:
            raise ClientError(str(_http_error(url, exc))) from None
        except (urllib.error.URLError, OSError) as exc:
            unreachable.append(f"{url} ({getattr(exc, 'reason', None) or exc})")
            continue
        return url, response
    raise ClientError(f"cannot reach {'; '.join(unreachable)}: is the node running?")


def _download(url: str, path: Path, response: BinaryIO, file: AtomicFile, progress: _Progress | None) -> None:
    try:
        while block := response.read(BLOCK):
            file.write(block)
            if progress is not None:
                progress.show(file.size)
    except (http.client.HTTPException, OSError) as exc:
        reason = str(exc) if isinstance(exc, OSError) else type(exc).__name__
        raise ClientError(
            f"the download from {url} broke off after {file.size} bytes ({reason}); {path} was not written"
        ) from None


class _Progress:
    """One line on a terminal, rewritten as the bytes arrive: how many, and how fast."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._started = self._shown = time.monotonic()

    def show(self, size: int) -> None:
        now = time.monotonic()
        if now - self._shown < PROGRESS_EVERY_S:
            return
        self._shown = now
        rate = size / max(now - self._started, 1e-9) / 1e6
        self._stream.write(f"\rdownloading the backup: {size / 1e6:.1f} MB ({rate:.1f} MB/s)")
        self._stream.flush()

    def done(self) -> None:
        self._stream.write("\r\033[K")
        self._stream.flush()


def header_fields(header: BackupHeader) -> dict[str, Any]:
    return {
        "cluster_id": header.cluster_id,
        "index": header.index,
        "term": header.term,
        "tasks": header.tasks,
        "storage_format": header.storage_format,
        "release": header.release,
        "created_at": header.created_at,
    }


def _summary(header: BackupHeader) -> str:
    s = "" if header.tasks == 1 else "s"
    return f"{header.tasks} task{s} at index {header.index} of cluster {header.cluster_id or '(no id)'}"


def restore(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    """``todonode restore FILE --config CONFIG``; the exit status."""
    from .config import ConfigError, load_config
    from .storage import DataDirLocked, backup_file
    from .storage.backup_file import BackupRefused
    from .storage.new_cluster import DataDirNotEmpty, seed_new_cluster
    from .versions import ClusterTooNew

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    data_dir = config.node.data_dir
    held = sorted(p.name for p in data_dir.iterdir()) if data_dir.is_dir() else None
    if held or (held is None and data_dir.exists()):
        return _fail(str(DataDirNotEmpty(data_dir, held or [])), 1)  # before reading a large file
    try:
        header, state = backup_file.read(Path(args.file))
        cluster_id = seed_new_cluster(
            data_dir, config.node.id, config.self_url, state, header.index, header.term
        )
    except (BackupRefused, DataDirNotEmpty, DataDirLocked) as exc:
        return _fail(str(exc), 1)
    except ClusterTooNew as exc:
        return _fail(f"{args.file}: {exc}", 2)
    except OSError as exc:
        return _fail(f"cannot write {data_dir}: {exc.strerror or exc}", 1)
    out(escaped(f"restored {args.file} into {data_dir}: {_summary(header)}"))
    out(f"{config.node.id} is now the only member of the new cluster {cluster_id}. Next:")
    out(f"  1. start it: todonode --config {config.path}")
    out(
        "  2. start each other node with an empty data directory and, in its config, "
        f'[cluster] join = "{config.self_url}"'
    )
    return 0


def _fail(message: str, status: int) -> int:
    print(f"todonode: {escaped(message)}", file=sys.stderr)
    return status
