"""The node runtime: drives the Raft core with a clock, the disk and the network, and applies what it
commits to the task state. ``Node`` (facade.py) is the one object the API uses; the module docstring
there lists the file of each concern."""

from .facade import MAX_PENDING_WRITES, Node
from .status import NodeStatus, PeerStatus, QuorumStatus

__all__ = ["MAX_PENDING_WRITES", "Node", "NodeStatus", "PeerStatus", "QuorumStatus"]
