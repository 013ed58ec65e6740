from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from coalwatch.auth.service import authenticate, authenticate_digest, token_digest
from coalwatch.errors import Invalid, Unauthorized
from coalwatch.events.broker import Event
from coalwatch.storage.session import transaction
from coalwatch.web.context import Ctx, app_state
from coalwatch.web.secret import session_secret

router = APIRouter(tags=["events"])
KEEPALIVE_S = 15.0


#: how long a ticket opens a stream: it is in the URL, so in access logs
TICKET_S = 30


class Ticket(BaseModel):
    ticket: str
    expires_in: int


def _ticket_mac(secret: str, digest: str, expires: int) -> str:
    message = f"coalwatch-events|{digest}|{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def make_ticket(secret: str, digest: str, now: datetime) -> str:
    """``digest.expires.mac``: names the token by its stored digest (not the token),
    expires after TICKET_S and is signed with the center's secret key."""
    expires = int(now.timestamp()) + TICKET_S
    return f"{digest}.{expires}.{_ticket_mac(secret, digest, expires)}"


def ticket_digest(secret: str, ticket: str, now: datetime) -> str:
    """The token digest a ticket names, or 401 when it is forged or expired."""
    digest, _, rest = ticket.partition(".")
    expires_text, _, mac = rest.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        raise Unauthorized("not an event stream ticket")
    expires = int(expires_text)
    if not hmac.compare_digest(mac, _ticket_mac(secret, digest, expires)):
        raise Unauthorized("not an event stream ticket")
    if expires < now.timestamp():
        raise Unauthorized("the event stream ticket has expired; ask for a new one")
    return digest


@router.post(
    "/events/tickets",
    summary="A ticket that opens the event stream for 30 seconds (for EventSource)",
    description=(
        "Browsers' EventSource cannot send `Authorization`; a token in the URL would be "
        "written in access logs. Ask for a ticket with the token, then open "
        "`/api/v1/events?ticket=…` within 30 seconds. The stream has the token's scope."
    ),
)
def event_ticket(ctx: Ctx) -> Ticket:
    with ctx.session() as session:
        ctx.principal(session)
    assert ctx.credentials is not None  # principal() refuses a request without
    secret = session_secret(ctx.settings)
    digest = token_digest(ctx.credentials.credentials.strip())
    return Ticket(ticket=make_ticket(secret, digest, ctx.now()), expires_in=TICKET_S)


@router.get(
    "/events",
    summary="Live events (Server-Sent Events): alarm transitions and changed figures",
    description=(
        "Each event is `event: alarm|figures|fault` with a JSON `data` line. Authenticate "
        "with `Authorization: Bearer`, or, for browsers' EventSource, with `?ticket=` from "
        "`POST /api/v1/events/tickets` (never the token in the URL). A signed-in browser "
        "uses its session cookie. Only events of mines in the caller's scope are sent. "
        "`?limit=N` closes the stream after N events."
    ),
    response_class=StreamingResponse,
    openapi_extra={
        "parameters": [
            {"name": "ticket", "in": "query", "required": False, "schema": {"type": "string"}},
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1},
            },
        ]
    },
)
async def events(request: Request) -> StreamingResponse:
    state = app_state(request)
    header = request.headers.get("authorization")
    ticket = request.query_params.get("ticket")
    now = state.clock()
    if header is not None:
        with transaction(state.sessions) as session:
            principal = authenticate(session, header, limiter=state.limiter, now=now)
    elif ticket is not None:
        digest = ticket_digest(session_secret(state.settings), ticket, now)
        with transaction(state.sessions) as session:
            principal = authenticate_digest(session, digest, limiter=state.limiter, now=now)
    else:
        # a signed-in browser: the session cookie (no CSRF needed: nothing changes)
        from coalwatch.web.pages import PasswordChangeRequired, session_principal

        found = await run_in_threadpool(session_principal, request)
        if found is None:
            raise Unauthorized("sign in, or authenticate with an API token")
        if found[1].must_change_password:
            raise PasswordChangeRequired("密码须修改 (the password must be changed)")
        principal = found[0]
    # the query is read once the caller is known: nothing is told to an anonymous one
    limit = _limit(request.query_params.get("limit"))
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


def _limit(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 10**9:
        raise Invalid("limit must be a whole number from 1", code="invalid")
    return int(text)


def _offer(queue: asyncio.Queue[Event], event: Event) -> None:
    if not queue.full():
        queue.put_nowait(event)
