"""The admin dashboard: one HTML page, one script and one stylesheet, all our own.

The page holds no data: the browser logs in with an admin token (kept in session
storage) and reads everything from the JSON API (``/v1/admin/*``, ``/v1/jobs``,
``/v1/stats``) and the live events socket (``/v1/ws``). Charts are drawn as SVG by
``static/app.js``; nothing third-party is loaded.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

HERE = Path(__file__).parent
STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
# The page may load only its own files; inline scripts and other origins are refused.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


@router.get("/dashboard")
async def page() -> FileResponse:
    return FileResponse(
        HERE / "templates" / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
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
