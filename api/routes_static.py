"""The embeddable widget (GET /widget.js) and the demo page (GET /)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse

router = APIRouter(include_in_schema=False)

STATIC_DIR = Path(__file__).resolve().parent / "static"

# The demo page runs only our own scripts; the widget may talk to another origin's API (data-api).
_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src *; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@router.get("/widget.js")
def widget_js() -> FileResponse:
    """The chat widget: `<script src="https://host/widget.js" data-api="https://host"></script>`."""
    return FileResponse(
        STATIC_DIR / "widget.js",
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


@router.get("/demo.js")
def demo_js() -> FileResponse:
    """Script of the demo page (lists the indexed reports)."""
    return FileResponse(STATIC_DIR / "demo.js", media_type="text/javascript; charset=utf-8")


@router.get("/")
def index() -> FileResponse:
    """The demo page with the widget over the indexed reports."""
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": _PAGE_CSP, "Cache-Control": "no-cache"},
    )
