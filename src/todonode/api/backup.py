"""``GET /backup``: the applied state at one index, streamed as a backup file (storage/backup_file.py).
Administrators only (api/access.py): a backup is every task, and a new cluster can be made of it.

Any node serves it, at its own applied index once a read barrier has brought that index up to
everything acknowledged before the request (ReadIndex, as a linearizable read): so a backup holds
every write that succeeded before it was asked for, and an operator can point backups at a follower
to keep their CPU off the leader. The bytes are not forwarded: a stream of hundreds of megabytes is
best served where it is encoded.

The state is copied on the event loop, at one index (node/backup_point.py), and encoded in a worker
thread a piece at a time; each piece is written before the next is encoded, so a slow client slows
the encoding instead of filling memory, and a client that leaves stops it. At most ``MAX_BACKUPS``
stream from one node at once; one more is 503 ``overloaded``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from ..deadline import Deadline
from ..errors import Overloaded
from ..storage.backup_file import MEDIA_TYPE, backup_pieces
from . import headers
from .access import require_admin
from .keys import NODE

MAX_BACKUPS = 2  # each costs a core while it encodes; more would starve the node of CPU
BUSY_RETRY_AFTER_S = 30  # a backup of a large list takes seconds to minutes


class BackupSlots:
    """How many backups this node streams now, and the most it may."""

    def __init__(self, most: int = MAX_BACKUPS) -> None:
        self.most = most
        self.busy = 0

    @contextmanager
    def take(self) -> Iterator[None]:
        if self.busy >= self.most:
            raise Overloaded(
                f"this node already streams {self.busy} backups, the most it takes at once; retry when one "
                "has finished, or ask another node",
                retry_after=BUSY_RETRY_AFTER_S,
            )
        self.busy += 1
        try:
            yield
        finally:
            self.busy -= 1


BACKUPS = web.AppKey("backups", BackupSlots)


def setup(app: web.Application) -> None:
    app[BACKUPS] = BackupSlots()


async def serve(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    node = request.app[NODE]
    with request.app[BACKUPS].take():
        await node.read_barrier(Deadline(node.config.cluster.write_wait_ms / 1000))
        point = node.backup_point()
        header = point.header()
        pieces = backup_pieces(header, point.meta, point.state)
        del point  # the pieces hold the state copy, and let it go as they end
        name = f"todonode-{header.cluster_id or 'cluster'}-{header.index}.backup"
        response = web.StreamResponse(
            headers={
                "Content-Type": MEDIA_TYPE,
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
                headers.NODE: node.id,
                headers.APPLIED_INDEX: str(header.index),
                headers.CLUSTER_ID: header.cluster_id or "",
                headers.BACKUP_INDEX: str(header.index),
                headers.BACKUP_TERM: str(header.term),
                headers.BACKUP_FORMAT: str(header.storage_format),
            }
        )
        await response.prepare(request)
        try:
            while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
                await response.write(piece)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client left: no more pieces are encoded, and the copy is let go
        return response
