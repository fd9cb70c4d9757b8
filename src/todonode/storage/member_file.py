"""The data directory's MEMBER file: which member of which cluster this directory belongs to, for a node
that joined a running cluster, or whose directory was seeded as the one member of a new cluster
(storage/new_cluster.py). A node that bootstrapped the cluster has none, and is the member its config
file names.

A joining node writes it before it takes part in anything, with what the cluster told it: the member id
the cluster chose for it, the cluster id, and where every member was then (its config file names none
of them but itself). The file is written once per directory, never changed: a node that is removed and
rejoins moves its old log aside and gets a new id, so one directory never holds two members' logs.

Written like the VERSION file (durable.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .durable import replace_durably

FILE_NAME = "MEMBER"


class MemberFileDamaged(Exception):
    """The MEMBER file exists but cannot be read: the node cannot know which member it is."""


@dataclass(frozen=True, slots=True)
class Membership:
    member_id: str
    cluster_id: str
    addresses: dict[str, str] = field(default_factory=dict)  # member id -> URL, when it joined


def load(data_dir: Path) -> Membership | None:
    """The directory's membership; None when it has no MEMBER file. MemberFileDamaged if unreadable."""
    path = data_dir / FILE_NAME
    try:
        raw = orjson.loads(path.read_bytes())
        return Membership(str(raw["member"]), str(raw["cluster"]), dict(raw.get("addresses", {})))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MemberFileDamaged(
            f"{path} cannot be read ({exc}); move the data directory aside and start this node with an "
            "empty one to join again under a new id"
        ) from exc


def save(data_dir: Path, membership: Membership) -> None:
    m = membership
    body = {"member": m.member_id, "cluster": m.cluster_id, "addresses": m.addresses}
    replace_durably(data_dir / FILE_NAME, orjson.dumps(body) + b"\n")
