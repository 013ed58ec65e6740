"""The interactive API documentation (Swagger UI) from the center itself.

The monitoring network is closed and the Content-Security-Policy allows the center's
own origin only (web/security.py), so Swagger UI comes from the pinned npm package
``swagger-ui-dist`` (copied under /static/vendor by ``make assets``) and starts from a
static script, not an inline one.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · API</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/vendor/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="/static/vendor/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""


def docs_router(path: str, openapi_url: str, title: str) -> APIRouter:
    page = PAGE.format(title=title, openapi=openapi_url)
    docs = APIRouter(include_in_schema=False)

    @docs.api_route(path, methods=["GET", "HEAD"])
    def api_docs() -> HTMLResponse:
        return HTMLResponse(page)

    return docs
