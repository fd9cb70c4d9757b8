"""What the node runtime reports as it runs, for whoever watches (``metrics.py``).

The runtime calls these hooks at the moments worth measuring; this base class does nothing, so a node
without metrics pays one method call per event. Hooks are called on the event loop, except ``fsync``,
which the disk thread may call (node/disk.py). A hook must be quick and must never raise.
"""

from __future__ import annotations


class NodeObserver:
    def fsync(self, seconds: float) -> None:
        """The write-ahead log was fsync'd; it took ``seconds``."""

    def snapshot(self, seconds: float, size: int) -> None:
        """A snapshot of ``size`` bytes was saved in ``seconds``."""

    def leader_changed(self, leader: str | None, term: int) -> None:
        """This node learnt of another leader (or of none) in ``term``."""

    def replication_rtt(self, peer: str, seconds: float) -> None:
        """``peer`` acknowledged entries ``seconds`` after they were sent to it (its fsync included)."""

    def backup_taken(self, size: int, seconds: float) -> None:
        """A scheduled backup of ``size`` bytes was written and verified in ``seconds``."""

    def backup_good(self, at: float) -> None:
        """The newest backup in backup.dir that verifies was written at ``at`` (wall time): one just
        taken, or, at start-up, one taken before."""

    def backup_failed(self) -> None:
        """A scheduled backup could not be written, or did not verify."""
