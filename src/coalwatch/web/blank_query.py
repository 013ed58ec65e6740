"""Empty query parameters of page requests are left out.

A page's filter form sends its "all" choices and its empty date fields as empty values
(``/query/alarms?mine=&from=&to=``). To a page an empty value means "not given", as a
person expects when pressing 查询 without choosing anything; parsed strictly, an empty
``from=`` is not a date and the page answered 422. The API keeps its strict parsing.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIX = "/api/"


class BlankQueryParameters:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if (
            query
            and scope["method"] in ("GET", "HEAD")
            and not scope["path"].startswith(API_PREFIX)
        ):
            kept = b"&".join(p for p in query.split(b"&") if p and not p.endswith(b"="))
            if kept != query:
                scope = {**scope, "query_string": kept}
        await self.app(scope, receive, send)
