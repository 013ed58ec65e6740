from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from coalwatch.auth.service import authenticate
from coalwatch.errors import Unauthorized
from coalwatch.events.broker import Event
from coalwatch.storage.session import transaction
from coalwatch.web.context import app_state

router = APIRouter(tags=["events"])
KEEPALIVE_S = 15.0


@router.get(
    "/events",
    summary="Live events (Server-Sent Events): alarm transitions and changed figures",
    description=(
        "Each event is `event: alarm|figures|fault` with a JSON `data` line. Authenticate "
        "with `Authorization: Bearer` or, for browsers' EventSource, `?token=`. Only events "
        "of mines in the token's scope are sent. A signed-in browser uses its session cookie."
    ),
    response_class=StreamingResponse,
)
async def events(
    request: Request,
    token: Annotated[str | None, Query(description="the token, for EventSource")] = None,
    limit: Annotated[int | None, Query(ge=1, description="close after this many events")] = None,
) -> StreamingResponse:
    state = app_state(request)
    header = request.headers.get("authorization") or (f"Bearer {token}" if token else None)
    if header is None:
        # a signed-in browser: the session cookie (no CSRF needed: nothing changes)
        from coalwatch.web.pages import PasswordChangeRequired, session_principal

        found = await run_in_threadpool(session_principal, request)
        if found is None:
            raise Unauthorized("sign in, or authenticate with an API token")
        if found[1].must_change_password:
            raise PasswordChangeRequired("密码须修改 (the password must be changed)")
        principal = found[0]
    else:
        with transaction(state.sessions) as session:
            principal = authenticate(session, header, limiter=state.limiter, now=state.clock())
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=1000)

    def deliver(event: Event) -> None:
        if principal.sees(event.org_path):
            loop.call_soon_threadsafe(_offer, queue, event)

    state.broker.listen(deliver)

    async def stream() -> AsyncIterator[bytes]:
        sent = 0
        try:
            yield b": coalwatch event stream\n\n"
            while limit is None or sent < limit:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
                yield f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n".encode()
                sent += 1
        finally:
            state.broker.forget(deliver)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _offer(queue: asyncio.Queue[Event], event: Event) -> None:
    if not queue.full():
        queue.put_nowait(event)
