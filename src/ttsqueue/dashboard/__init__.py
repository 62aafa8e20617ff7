"""The admin dashboard: one HTML page, one script and one stylesheet, all our own.

The page holds no data: the browser logs in with an admin token (kept in session
storage) and reads everything from the JSON API (``/v1/admin/*``, ``/v1/jobs``,
``/v1/stats``) and the live events socket (``/v1/ws``). Charts are drawn as SVG by
``static/app.js``; ``static/pause.js`` pauses and resumes claiming; nothing
third-party is loaded.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse

HERE = Path(__file__).parent
STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "pause.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
# The page may load only its own files; inline scripts and other origins are refused.
# Its connections go to its own origin only: the WebSocket origin (ws:// beside http://,
# wss:// beside https://) is named exactly, as older browsers do not count it as 'self'.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src {connect}; frame-ancestors 'none'"
)
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def csp_for(request: Request) -> str:
    """The page's policy, with its own WebSocket origin (from the Host it was asked
    for; anything odd in it leaves only 'self')."""
    host = request.headers.get("host", "")
    connect = "'self'"
    if _HOST.match(host):
        scheme = "wss" if request.url.scheme == "https" else "ws"
        connect = f"'self' {scheme}://{host}"
    return CSP.format(connect=connect)


router = APIRouter(include_in_schema=False)


@router.get("/dashboard")
async def page(request: Request) -> FileResponse:
    return FileResponse(
        HERE / "templates" / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": csp_for(request), "Cache-Control": "no-cache"},
    )


@router.get("/dashboard/")
async def slash() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/dashboard/static/{name}")
async def static(name: str) -> FileResponse:
    media = STATIC.get(name)
    if media is None:
        from ttsqueue.api.errors import ApiError

        raise ApiError(404, f"no file {name[:100]}", loc=["path", "name"], type="not_found")
    return FileResponse(
        HERE / "static" / name, media_type=media, headers={"Cache-Control": "no-cache"}
    )
