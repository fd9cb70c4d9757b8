"""``GET /``: the dashboard, served from the ``static`` folder shipped inside the package.

The page is plain ES modules and a stylesheet, so it runs under a strict Content-Security-Policy: no
inline script or style, nothing from a third party. ``connect-src`` lists every node of the cluster,
because the page moves to another node (another origin) when the one that served it stops answering.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aiohttp import web

from ..errors import NotFound
from .keys import CONFIG

STATIC_DIR = Path(str(resources.files("todonode") / "static"))
_STATIC_ROOT = STATIC_DIR.resolve()

# Sent with every dashboard file; the page itself also gets the Content-Security-Policy.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def content_security_policy(nodes: tuple[str, ...]) -> str:
    return "; ".join(
        (
            "default-src 'self'",
            "connect-src " + " ".join(("'self'", *nodes)),
            "img-src 'self' data:",
            "style-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        )
    )


async def index(request: web.Request) -> web.FileResponse:
    return _file(request, STATIC_DIR / "index.html")


async def static_file(request: web.Request) -> web.FileResponse:
    """A file below ``static/``; nothing outside it, whatever the path says (``..``, links)."""
    path = (STATIC_DIR / request.match_info["path"]).resolve()
    if not path.is_relative_to(_STATIC_ROOT) or not path.is_file():
        raise NotFound("No such file of the dashboard.")
    return _file(request, path)


def _file(request: web.Request, path: Path) -> web.FileResponse:
    # The page's policy on every file, in case one is opened directly (it is ignored on scripts), and
    # no-cache: scripts and styles change with the node's version, so revalidate rather than run a
    # stale copy.
    csp = content_security_policy(request.app[CONFIG].cluster.nodes)
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": csp, **SECURITY_HEADERS}
    return web.FileResponse(path, headers=headers)
