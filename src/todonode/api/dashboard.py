"""``GET /``: the dashboard, served from the ``static`` folder shipped inside the package.

The page is plain ES modules and a stylesheet, so it runs under a strict Content-Security-Policy: no
inline script or style, nothing from a third party. ``connect-src`` lists every node of the cluster,
because the page moves to another node (another origin) when the one that served it stops answering.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aiohttp import web

from .keys import CONFIG

STATIC_DIR = Path(str(resources.files("todonode") / "static"))

# Sent with every dashboard file; the page itself also gets the Content-Security-Policy.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)
    app.on_response_prepare.append(_static_headers)


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
    csp = content_security_policy(request.app[CONFIG].cluster.nodes)
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": csp, **SECURITY_HEADERS}
    return web.FileResponse(STATIC_DIR / "index.html", headers=headers)


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/static/"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        # The same policy if the page is opened as /static/index.html (it is ignored on scripts).
        csp = content_security_policy(request.app[CONFIG].cluster.nodes)
        response.headers.setdefault("Content-Security-Policy", csp)
        # Scripts and styles change with the node's version: revalidate rather than run a stale copy.
        response.headers.setdefault("Cache-Control", "no-cache")
