"""``todonode cluster members|add|remove|replace``: the cluster's membership from a terminal, through
``/cluster/members`` (api/members.py). Administration: the admin token or the cluster's credentials.

``replace OLD URL`` is the safe way to swap a node for another: add the new one (a learner), wait until
the leader has promoted it to voter — printing how far behind it is meanwhile — and only then remove the
old one. At no point has the cluster fewer voters than before, so it keeps its tolerance for failures
throughout.

A change refused for now (no leader yet, 503) is asked again, as writes are: nothing was proposed. One
whose answer was lost may have been made: asked again, an add answers the same id while the new node
has received nothing, and a removal answers not_a_member.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from .client import Client, ClientError, _cell, _print_json, _quote, _table

POLL_S = 0.5


def add_commands(cluster: Any, common: argparse.ArgumentParser) -> None:
    """The membership commands, on the ``cluster`` command's subparsers."""
    members = cluster.add_parser("members", parents=[common], help="the voters and learners")
    members.set_defaults(run=_members)
    add = cluster.add_parser("add", parents=[common], help="add the node at URL (a learner until caught up)")
    # Not "url": the common --url names the node to ask.
    add.add_argument(
        "member_url", metavar="URL", help="where the new node listens, e.g. http://127.0.0.1:4004"
    )
    add.add_argument("--id", help="its member id (default: one the cluster picks, never used before)")
    add.add_argument("--learner", action="store_true", help="keep it a learner: never promote it")
    add.set_defaults(run=_add)
    remove = cluster.add_parser("remove", parents=[common], help="remove the member ID (its id is retired)")
    remove.add_argument("id", metavar="ID")
    remove.set_defaults(run=_remove)
    replace = cluster.add_parser(
        "replace", parents=[common], help="add the node at URL, wait until it votes, then remove ID"
    )
    replace.add_argument("id", metavar="ID", help="the member to replace")
    replace.add_argument("member_url", metavar="URL", help="where the node that replaces it listens")
    replace.add_argument("--wait", type=float, default=600.0, help="seconds to wait for the promotion")
    replace.set_defaults(run=_replace)


def _members(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    answer = client.call("GET", "/cluster/members", admin=True)
    if args.json:
        _print_json(out, answer)
        return
    view = "" if answer["view"] == "leader" else " (this node's partial view: the leader did not answer)"
    out(f"cluster {answer['cluster_id'] or '(no id yet)'}, leader {answer['leader_id'] or 'none'}{view}")
    rows = [("ID", "URL", "ROLE", "REACHABLE", "MATCH", "LAG")]
    for m in answer["members"]:
        role = m["role"] + (" (kept)" if m["kept_learner"] else "")
        reachable = "yes" if m["reachable"] else "no"
        rows.append((m["id"], m["url"], role, reachable, _cell(m["match_index"]), _cell(m["lag"])))
    for line in _table(rows):
        out(line)
    if answer["retired"]:
        out(f"retired ids (never used again): {', '.join(answer['retired'])}")


def _add(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    body: dict[str, Any] = {"url": args.member_url.rstrip("/"), "learner": args.learner}
    if args.id:
        body["id"] = args.id
    answer = client.call("POST", "/cluster/members", body, admin=True, retry=True)
    if args.json:
        _print_json(out, answer)
        return
    then = "it stays one" if args.learner else "it becomes a voter once caught up"
    out(f"added {answer['id']} at {answer['url']} as a learner; {then}")


def _remove(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    answer = client.call("DELETE", f"/cluster/members/{_quote(args.id)}", admin=True, retry=True)
    _print_json(out, answer) if args.json else out(f"removed {answer['id']}; its id is never used again")


def _replace(client: Client, args: argparse.Namespace, out: Callable[[str], None]) -> None:
    members = client.call("GET", "/cluster/members", admin=True)["members"]
    if args.id not in [m["id"] for m in members]:
        raise ClientError(f"{args.id} is not a member; `todonode cluster members` lists them")
    url = args.member_url.rstrip("/")
    joined = next((m["id"] for m in members if m["url"] == url and m["id"] != args.id), None)
    if joined is None:
        new = client.call("POST", "/cluster/members", {"url": url}, admin=True, retry=True)["id"]
        out(f"added {new} at {url} as a learner; waiting until it votes")
    else:
        new = joined  # it joined by itself (cluster.join)
        out(f"{new} at {url} is a member already; waiting until it votes")
    deadline = time.monotonic() + args.wait
    said = ""
    while True:
        row = next(
            (m for m in client.call("GET", "/cluster/members", admin=True)["members"] if m["id"] == new), None
        )
        if row is None:
            raise ClientError(
                f"{new} is no longer a member (removed meanwhile?); {args.id} was left in place"
            )
        if row["role"] == "voter":
            break
        progress = f"{new}: learner, {_cell(row['lag'])} entries behind the leader"
        if progress != said:
            out(progress)
            said = progress
        if time.monotonic() > deadline:
            raise ClientError(
                f"{new} did not become a voter within {args.wait:g} s; {args.id} was left in place"
            )
        time.sleep(POLL_S)
    out(f"{new} votes; removing {args.id}")
    client.call("DELETE", f"/cluster/members/{_quote(args.id)}", admin=True, retry=True)
    out(f"replaced {args.id} with {new}")
