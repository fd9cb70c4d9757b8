"""``todonode recover --force-new-cluster --config CONFIG``: the last resort when a majority of the
cluster will never come back (README, "Disaster recovery").

On one surviving node's stopped data directory: take the directory's lock (a running node keeps it, so
it is refused), rebuild what the node holds (node/forced_recovery.py), say what will count as committed
and what may be lost, and ask for the node id to be typed (``--yes`` for scripts; with neither a
terminal nor ``--yes`` it refuses). Only then: move the old data directory aside, never deleting it, and
seed a new one in its place as the only member of a new cluster (storage/new_cluster.py).

Every refusal and failure is one line on stderr, exit status 1 (2 for a bad config or a directory
in a format this todonode cannot read), and says whether anything changed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config, ConfigError, load_config
from .versions import ClusterTooNew, StorageTooNew

if TYPE_CHECKING:
    from .node.forced_recovery import Held

Ask = Callable[[str], str]  # shows a prompt on the terminal, returns the line typed


class Refused(Exception):
    """Nothing to do, or not confirmed: one line for the user, exit status 1."""


def add_commands(subparsers: Any) -> None:
    recover = subparsers.add_parser(
        "recover",
        help="last resort: make one stopped node the only member of a new cluster",
        description="Make this stopped node the only member of a new cluster, from what it holds alone: "
        "the last resort when a majority of the cluster will never come back. It says what may be lost, "
        "asks for the node id, and keeps the old data directory beside the new one.",
    )
    recover.add_argument(
        "--force-new-cluster",
        action="store_true",
        required=True,
        help="from what this node holds alone; writes the lost majority acknowledged may be lost",
    )
    recover.add_argument("--config", "-c", required=True, help="the surviving node's config file")
    recover.add_argument("--yes", action="store_true", help="confirm without typing the node id (scripts)")
    recover.set_defaults(run=run)


def run(args: argparse.Namespace, ask: Ask | None = None, now: datetime | None = None) -> int:
    """``ask``: how to ask for confirmation; None asks the terminal, if there is one."""
    from .storage import DataDirLocked, VersionFileDamaged, WalCorruption
    from .storage.member_file import MemberFileDamaged

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"todonode: {exc}", file=sys.stderr)
        return 2
    try:
        recover(config, args.yes, ask or _terminal(), now or datetime.now(UTC))
    except (StorageTooNew, ClusterTooNew) as exc:
        print(f"todonode: {exc}; nothing was changed", file=sys.stderr)
        return 2
    except (Refused, DataDirLocked, MemberFileDamaged, VersionFileDamaged, WalCorruption, OSError) as exc:
        print(f"todonode: {exc}", file=sys.stderr)
        return 1
    return 0


def recover(config: Config, yes: bool, ask: Ask | None, now: datetime) -> None:
    from .node.forced_recovery import NothingHeld, aside_path, read_held, set_aside
    from .storage import DataDirLock, member_file
    from .storage.new_cluster import DataDirNotEmpty, seed_new_cluster

    data_dir = config.node.data_dir
    if not data_dir.is_dir():
        raise Refused(
            f"{data_dir} does not exist: nothing to recover (is {config.path} the surviving node's?)"
        )
    membership = member_file.load(data_dir)
    aside = aside_path(data_dir, now)
    with DataDirLock(data_dir):  # held until the directory is set aside: no node may start on it meanwhile
        try:
            held = asyncio.run(read_held(config, membership))
        except NothingHeld as exc:
            raise Refused(f"{exc}: nothing to recover (is {config.path} the surviving node's?)") from None
        print(report(config, held, aside))
        _confirm(held.member_id, yes, ask)
        set_aside(data_dir, aside)
    print(f"moved the old data directory to {aside}")
    try:
        cluster_id = seed_new_cluster(
            data_dir, held.member_id, config.self_url, held.state, held.index, held.last_term
        )
    except (OSError, DataDirNotEmpty) as exc:
        raise Refused(
            f"seeding {data_dir} failed ({exc}); the old data is kept in {aside}: move it back to try again"
        ) from exc
    print(
        f"seeded {data_dir}: {held.member_id} is the only member of the new cluster {cluster_id}, holding "
        f"{held.tasks} tasks at index {held.index} (term {held.last_term}).\n"
        f"Next: start it (todonode --config {config.path}), then start every other node with an empty\n"
        f"data directory and [cluster] join = {config.self_url}"
    )


def report(config: Config, held: Held, aside: Path) -> str:
    """What the user confirms: what this node holds, what will count as committed, what may be lost."""
    if held.uncommitted_count:
        kinds = ", ".join(f"{n} {what}" for what, n in sorted(held.uncommitted.items()))
        entries = "1 entry" if held.uncommitted_count == 1 else f"{held.uncommitted_count} entries"
        counted = (
            f"the {entries} after index {held.commit} ({kinds}), which this node never\n"
            "learned were committed (a new leader commits every entry of its log)"
        )
    else:
        counted = "no entry that was not already (this node knew its whole log committed)"
    return f"""\
todonode recover --force-new-cluster
  node:            {held.member_id} (config {config.path})
  data directory:  {config.node.data_dir}
  cluster:         {held.cluster_id or "(no id yet)"}, voters {", ".join(held.voters) or "(none)"}
  log:             up to index {held.index}, term {held.last_term} (current term {held.term})
  committed:       up to index {held.commit}, as far as this node knows
  tasks:           {held.tasks}, once every entry is applied

This makes {held.member_id} the only member of a NEW cluster, from what it holds alone: the last resort,
for when a majority of the voters above will never come back.

Will now count as committed: {counted}.
May be lost: every write the other voters acknowledged that never reached this node. This node cannot
tell how many there were; they are not in the new cluster.
The old data directory is kept: it moves to {aside}.
Nodes of the old cluster must never start again with their old data: give each an empty data directory
and [cluster] join = {config.self_url}."""


def _confirm(member_id: str, yes: bool, ask: Ask | None) -> None:
    if yes:
        return
    if ask is None:
        raise Refused(
            "refusing without confirmation: run this in a terminal and type the node id, or add --yes; "
            "nothing was changed"
        )
    typed = ask(f"Type the node id ({member_id}) to make it the only member of a new cluster: ").strip()
    if typed != member_id:
        raise Refused(f"not confirmed ({typed[:64]!r} is not {member_id!r}); nothing was changed")


def _terminal() -> Ask | None:
    if not sys.stdin.isatty():
        return None

    def ask(prompt: str) -> str:
        sys.stderr.write(prompt)
        sys.stderr.flush()
        try:
            return sys.stdin.readline()
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            raise Refused("not confirmed (interrupted); nothing was changed") from None

    return ask
