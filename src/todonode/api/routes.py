"""Every route a node serves, in one table: the router is built from it (``install``), and so is
``GET /openapi.json`` (openapi.py), so a route cannot be served without being described. The peer
routes are in the table too, marked not public: they are for cluster members only and left out of the
description.
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from ..config import Config
from ..transport import RAFT_PATH, STREAM_PATH
from . import backup, cluster, dashboard, demo, events, internal, members, metrics, models, openapi, tasks
from .export_import import NDJSON, export_tasks, import_tasks
from .openapi import JSON, Operation

# One task, by id. "batch", "export" and "import" are never one (ids are UUIDs): each is a resource of
# its own, and a 405 there lists only its own methods.
TASK = "/tasks/{id:(?!(?:batch|export|import)$)[^/]+}"
_NOT_FOUND = {404: "not_found: no task with this id"}
_DEMO_ERRORS = {
    404: "not_found: not in demo mode, or not asked from this machine",
    503: "demo_unavailable: the demo supervisor does not answer",
}
_ADMIN = {
    401: "unauthorized: needs the admin token or the cluster's credentials",
    403: "forbidden: the client token does not allow administration",
}
_CHANGE = {
    **_ADMIN,
    409: "change_in_flight, last_voter, already_a_member, already_a_voter, id_retired, url_in_use or "
    "cluster_version_too_old: the message says why",
    503: "no_leader, term_not_committed or transferring: retry shortly",
}
_STALE = {412: "precondition_failed: If-Match names an older version", 400: "If-Match cannot be read"}

ROUTES: tuple[Operation, ...] = (
    Operation(
        "get",
        "/tasks",
        tasks.list_tasks,
        "listTasks",
        "The tasks, newest first",
        (200, models.TaskList, JSON),
        params=(models.COMPLETED, models.LIMIT, models.CURSOR, *models.READ_PARAMS),
        errors={400: "validation_error naming the parameter", 422: "a parameter out of range"},
        read=True,
    ),
    Operation(
        "post",
        "/tasks",
        tasks.create_task,
        "createTask",
        "Create a task",
        (201, models.Task, JSON),
        request="TaskCreate",
        params=(models.REDIRECT,),
        errors={404: "not_found: a retry with the Idempotency-Key of a create whose task was deleted since"},
        write=True,
        etag=True,
        links=("getTask", "updateTask", "replaceTask", "deleteTask"),
    ),
    Operation(
        "post",
        "/tasks/batch",
        tasks.create_batch,
        "createTasks",
        "Create several tasks in one log entry: all or nothing",
        (201, models.TaskBatchCreated, JSON),
        request="TaskBatch",
        params=(models.REDIRECT,),
        write=True,
    ),
    Operation(
        "get",
        "/tasks/export",
        export_tasks,
        "exportTasks",
        "Every task, every field, as JSON Lines (oldest first), at the one index in X-Todonode-Export-Index",
        (200, None, NDJSON),
        params=models.READ_PARAMS,
        errors={400: "validation_error naming the parameter"},
        read=True,
    ),
    Operation(
        "post",
        "/tasks/import",
        import_tasks,
        "importTasks",
        "Create the tasks given, with their ids, skipping every id already present: safe to send again",
        (200, models.Imported, JSON),
        request="TaskImport",
        params=(models.REDIRECT,),
        errors={409: "cluster_version_too_old: a voter may still run a release without import"},
        write=True,
    ),
    Operation(
        "patch",
        "/tasks",
        tasks.set_all_completed,
        "setAllCompleted",
        "Mark every task completed (or active) in one log entry",
        (200, models.Updated, JSON),
        request="SetAllCompleted",
        params=(models.REDIRECT,),
        write=True,
    ),
    Operation(
        "delete",
        "/tasks",
        tasks.delete_many,
        "deleteTasks",
        "Delete the completed tasks (?completed=true) or every task (?all=true)",
        (200, models.Deleted, JSON),
        params=(models.DELETE_WHICH, models.REDIRECT),
        errors={400: "say what to delete: completed=true or all=true"},
        write=True,
    ),
    Operation(
        "get",
        TASK,
        tasks.get_task,
        "getTask",
        "One task, with its ETag",
        (200, models.Task, JSON),
        params=models.READ_PARAMS,
        errors={**_NOT_FOUND, 400: "validation_error naming the parameter"},
        read=True,
        etag=True,
    ),
    *(
        Operation(
            method,
            TASK,
            tasks.update_task,
            f"{verb}Task",
            "Change the title and/or completed of a task",
            (200, models.Task, JSON),
            request="TaskUpdate",
            params=(models.IF_MATCH, models.REDIRECT),
            errors={**_NOT_FOUND, **_STALE},
            write=True,
            etag=True,
        )
        for method, verb in (("put", "replace"), ("patch", "update"))
    ),
    Operation(
        "delete",
        TASK,
        tasks.delete_task,
        "deleteTask",
        "Delete a task",
        (200, models.TaskDeleted, JSON),
        params=(models.IF_MATCH, models.REDIRECT),
        errors={**_NOT_FOUND, **_STALE},
        write=True,
    ),
    Operation(
        "get", "/status", cluster.status, "getStatus", "This node", (200, models.Status, JSON), tag="cluster"
    ),
    Operation(
        "get", "/health", cluster.health, "getHealth", "Liveness", (200, models.Health, JSON), tag="cluster"
    ),
    Operation(
        "get",
        "/ready",
        cluster.ready,
        "getReady",
        "200 once this node knows a leader and has applied what it knows is committed; else 503",
        (200, models.Ready, JSON),
        errors={503: "not ready: the body is a Ready object listing the problems"},
        tag="cluster",
    ),
    Operation(
        "get",
        "/heartbeat",
        cluster.heartbeat,
        "getHeartbeat",
        "Liveness and leader",
        (200, models.Heartbeat, JSON),
        tag="cluster",
    ),
    Operation(
        "get",
        "/cluster/status",
        cluster.cluster_status,
        "getClusterStatus",
        "Every node as the leader sees it (a follower asks the leader)",
        (200, models.ClusterStatus, JSON),
        params=(models.LOCAL,),
        tag="cluster",
    ),
    Operation(
        "post",
        "/cluster/transfer-leader",
        cluster.transfer_leader,
        "transferLeader",
        "Hand the leadership to another node (a follower forwards this to the leader)",
        (200, models.TransferStarted, JSON),
        request="TransferLeader",
        errors={
            401: "unauthorized: needs the admin token or the cluster's credentials",
            403: "forbidden: the client token does not allow administration",
            404: "not_found: no such member",
            409: "transfer_failed: the node did not take over in time (is it reachable and caught up?)",
            503: "no_leader or no_quorum",
        },
        admin=True,
        tag="cluster",
    ),
    Operation(
        "get",
        "/cluster/members",
        members.list_members,
        "listMembers",
        "The voters and learners, with how far each has replicated (a follower asks the leader)",
        (200, models.Members, JSON),
        errors=_ADMIN,
        admin=True,
        tag="cluster",
    ),
    Operation(
        "post",
        "/cluster/members",
        members.add_member,
        "addMember",
        "Add a node as a learner; it is promoted to voter once caught up unless learner is true",
        (201, models.MemberAdded, JSON),
        request="MemberAdd",
        errors={**_CHANGE, 400: "validation_error: the url, or the id, is not one a member can have"},
        admin=True,
        tag="cluster",
    ),
    Operation(
        "delete",
        "/cluster/members/{id}",
        members.remove_member,
        "removeMember",
        "Remove a voter or a learner; its id is never used again",
        (200, models.MemberRemoved, JSON),
        errors={**_CHANGE, 404: "not_a_member: no member has this id"},
        admin=True,
        tag="cluster",
    ),
    Operation(
        "get",
        "/backup",
        backup.serve,
        "getBackup",
        "A backup of the applied state at one index, streamed (docs/api.md#backups)",
        (200, None, "application/x-todonode-backup"),
        errors={
            **_ADMIN,
            503: "overloaded: this node already streams the most backups it takes at once; or no_leader, "
            "no_quorum: the read barrier before the copy could not be made",
        },
        admin=True,
        tag="operations",
    ),
    Operation(
        "get",
        "/events",
        events.stream_events,
        "streamEvents",
        "Server-Sent Events: task changes (id = log index) and cluster changes",
        (200, None, "text/event-stream"),
        params=(models.LAST_EVENT_ID,),
        read=True,
        tag="events",
    ),
    Operation(
        "get",
        "/metrics",
        metrics.serve,
        "getMetrics",
        "Prometheus metrics",
        (200, None, "text/plain"),
        enabled=lambda config: config.api.metrics,
        tag="operations",
    ),
    Operation(
        "get",
        "/openapi.json",
        openapi.serve,
        "getOpenApi",
        "This description",
        (200, None, JSON),
        tag="operations",
    ),
    Operation(
        "get",
        "/",
        dashboard.index,
        "getDashboard",
        "The dashboard",
        (200, None, "text/html"),
        tag="operations",
    ),
    Operation(
        "get",
        "/static/{path:.+}",
        dashboard.static_file,
        "getDashboardFile",
        "A file of the dashboard: its scripts, styles and images",
        (200, None, "application/octet-stream"),
        errors={404: "not_found: no such file"},
        tag="operations",
    ),
    # The classroom cluster (api/demo.py): served in demo mode only, to this machine only; described,
    # because a teacher may drive the same controls with curl.
    Operation(
        "get",
        "/demo",
        demo.state,
        "getDemo",
        "Demo mode: each node's process, cut-off and disk, and the timing factor",
        (200, models.DemoState, JSON),
        enabled=lambda config: config.demo.enabled,
        errors=_DEMO_ERRORS,
        tag="demo",
    ),
    Operation(
        "post",
        "/demo/nodes/{node}/{action}",
        demo.control,
        "controlDemoNode",
        "Demo mode: stop, pause, resume, restart, isolate, heal, slow-disk or normal-disk a node",
        (200, models.DemoState, JSON),
        enabled=lambda config: config.demo.enabled,
        errors={
            **_DEMO_ERRORS,
            404: "not_found: no such node or action, not in demo mode, or not asked from this machine",
            409: "refused: e.g. stopping or pausing the last node that answers",
            415: "unsupported_media_type: send Content-Type: application/json (the body may be {})",
        },
        tag="demo",
    ),
    Operation(
        "get",
        "/demo/events",
        demo.events,
        "streamDemoEvents",
        "Demo mode: Server-Sent Events: the state on every change, and each node's reports",
        (200, None, "text/event-stream"),
        enabled=lambda config: config.demo.enabled,
        errors=_DEMO_ERRORS,
        tag="demo",
    ),
    # Peer RPC: the stream each peer opens to this node, and single batches by POST (for tools, and
    # under the original system's name /replicate). For cluster members only, so not described.
    *(
        Operation(
            method, path, handler, operation_id, "Peer RPC", (200, None, JSON), public=False, tag="internal"
        )
        for method, path, handler, operation_id in (
            ("get", STREAM_PATH, internal.receive_stream, "peerStream"),
            ("post", RAFT_PATH, internal.receive_messages, "peerBatch"),
            ("post", "/replicate", internal.receive_messages, "replicate"),
        )
    ),
)


def peer_paths() -> frozenset[str]:
    """The paths of the routes for cluster members only."""
    return frozenset(route.path for route in ROUTES if not route.public)


def install(app: web.Application, config: Config, *, peer_listener: bool = False) -> None:
    """Add every route this node serves to ``app``'s router, and publish their description. With
    ``node.peer_port`` the peer routes go to the peer listener's app (``peer_listener``) alone, and
    every other route to the client listener's alone."""
    served = [route for route in ROUTES if route.enabled(config) and _on(route, config, peer_listener)]
    for route in served:
        if route.method == "get":
            app.router.add_get(route.path, route.handler)  # and HEAD
        else:
            app.router.add_route(route.method.upper(), route.path, route.handler)
    app[openapi.DOCUMENT] = msgspec.json.encode(openapi.build(config, served))


def _on(route: Operation, config: Config, peer_listener: bool) -> bool:
    """Is ``route`` served on this listener? One listener serves everything; two split the routes."""
    return config.node.peer_port is None or route.public != peer_listener
