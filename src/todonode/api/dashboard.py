"""``GET /``: the dashboard, served from the ``static`` folder shipped inside the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(str(resources.files("todonode") / "static"))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
