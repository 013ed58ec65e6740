"""What a route needs: a transaction, the caller, the clock, the settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from coalwatch.auth.limits import RateLimiter
from coalwatch.auth.principal import Principal
from coalwatch.auth.service import authenticate
from coalwatch.config import Settings
from coalwatch.events.broker import Broker, attach
from coalwatch.ingest.committer import Committer
from coalwatch.storage.session import transaction

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppState:
    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock
    broker: Broker
    #: the rate-limited tokens' buckets (in this process)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    #: the group commit of station uploads (in this process); None: ``committer_for``
    committer: Committer | None = None

    def uploads(self) -> Committer:
        """The process's committer of station batches (made on first use)."""
        if self.committer is None:
            self.committer = committer_for(self.settings, self.sessions, self.broker, self.clock)
        return self.committer


def committer_for(
    settings: Settings, sessions: sessionmaker[Session], broker: Broker, clock: Clock
) -> Committer:
    return Committer(
        sessions,
        broker,
        clock,
        # SQLite has one writer at a time: more lanes would only wait on each other
        lanes=1 if sessions.kw["bind"].dialect.name == "sqlite" else settings.ingest_committers,
        max_batches=settings.ingest_group_batches,
        wait_s=settings.ingest_group_wait_ms / 1000,
        queue_size=settings.ingest_queue,
    )


_bearer = HTTPBearer(auto_error=False, description="an API token from `coalwatch token create`")


@dataclass
class Context:
    state: AppState
    credentials: HTTPAuthorizationCredentials | None

    @property
    def settings(self) -> Settings:
        return self.state.settings

    def now(self) -> datetime:
        return self.state.clock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction for the request, committed when the block ends."""
        with transaction(self.state.sessions) as session:
            attach(session, self.state.broker)
            yield session

    def principal(self, session: Session) -> Principal:
        header = (
            f"{self.credentials.scheme} {self.credentials.credentials}"
            if self.credentials
            else None
        )
        return authenticate(session, header, limiter=self.state.limiter, now=self.now())


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.coalwatch
    return state


def context(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Context:
    return Context(app_state(request), credentials)


Ctx = Annotated[Context, Depends(context)]
