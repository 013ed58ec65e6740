"""The center's web application: API v1 and the pages (Jinja2 + htmx + SSE)."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from starlette.middleware.sessions import SessionMiddleware

from coalwatch import __version__
from coalwatch.acceptance.api import router as acceptance_router
from coalwatch.acceptance.views import router as acceptance_pages
from coalwatch.alarms.api import router as alarms_router
from coalwatch.alarms.views import router as alarms_pages
from coalwatch.archive.api import router as archive_router
from coalwatch.archive.views import router as archive_pages
from coalwatch.audit.views import router as audit_pages
from coalwatch.auth.limits import DatabaseRateLimiter, limiter_for
from coalwatch.auth.views import router as auth_pages
from coalwatch.backups.api import router as backups_router
from coalwatch.backups.service import BackupJob
from coalwatch.backups.views import router as backups_pages
from coalwatch.config import Settings, load_settings
from coalwatch.duty.api import router as duty_router
from coalwatch.duty.views import router as duty_pages
from coalwatch.events import invalidation
from coalwatch.events.api import router as events_router
from coalwatch.events.broker import Broker
from coalwatch.events.relay import PgRelay, uses_relay
from coalwatch.exchange.gateway import gateways_from_settings
from coalwatch.exchange.mqtt import ingest_from_settings
from coalwatch.exchange.service import ExchangeJob
from coalwatch.faults.api import router as faults_router
from coalwatch.federation.api import router as federation_router
from coalwatch.federation.queue import enable_forwarding
from coalwatch.federation.service import Forwarder, forwarder_from_settings
from coalwatch.horizon.service import Arrivals, ArrivalsMiddleware, HorizonReporter
from coalwatch.ingest.api import document_schemas
from coalwatch.ingest.api import router as ingest_router
from coalwatch.integrity.service import IntegrityJob
from coalwatch.jobs.api import router as jobs_router
from coalwatch.jobs.leader import Leader, Lease
from coalwatch.jobs.scheduler import Scheduler
from coalwatch.limits.api import router as limits_router
from coalwatch.mines.api import router as mines_router
from coalwatch.mines.views import router as mines_pages
from coalwatch.monitor.views import router as monitor_pages
from coalwatch.notices.api import router as notices_router
from coalwatch.notices.views import router as notices_pages
from coalwatch.orgs.api import router as orgs_router
from coalwatch.orgs.views import router as orgs_pages
from coalwatch.partitions.service import PartitionJob
from coalwatch.penalties.api import router as penalties_router
from coalwatch.penalties.views import router as penalties_pages
from coalwatch.people.api import router as people_router
from coalwatch.people.views import router as people_pages
from coalwatch.permits.api import router as permits_router
from coalwatch.permits.views import router as permits_pages
from coalwatch.production.api import router as production_router
from coalwatch.production.views import router as production_pages
from coalwatch.records.api import router as records_router
from coalwatch.records.views import router as records_pages
from coalwatch.region.api import router as region_router
from coalwatch.region.views import router as region_pages
from coalwatch.reports.api import router as reports_router
from coalwatch.reports.views import router as reports_pages
from coalwatch.routines.api import router as routines_router
from coalwatch.routines.views import router as routines_pages
from coalwatch.settlement.api import router as settlement_router
from coalwatch.settlement.views import router as settlement_pages
from coalwatch.signals.api import router as signals_router
from coalwatch.stationconfig.api import router as stationconfig_router
from coalwatch.status.api import router as status_router
from coalwatch.storage import facts
from coalwatch.storage.crypto import use_secret_key
from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.summaries.api import router as summaries_router
from coalwatch.summaries.views import router as summaries_pages
from coalwatch.suspects.api import router as suspects_router
from coalwatch.suspects.views import router as suspects_pages
from coalwatch.users.service import ensure_builtin_roles
from coalwatch.users.views import router as users_pages
from coalwatch.video.api import router as video_router
from coalwatch.video.service import VideoJob
from coalwatch.video.views import router as video_pages
from coalwatch.web import errors
from coalwatch.web.api_docs import docs_router
from coalwatch.web.blank_query import BlankQueryParameters
from coalwatch.web.context import AppState, Clock, committer_for, system_clock
from coalwatch.web.secret import session_secret
from coalwatch.web.security import RequestGuard, SecurityHeaders
from coalwatch.workflows.api import router as workflows_router
from coalwatch.workflows.views import router as workflows_pages

API = "/api/v1"
log = logging.getLogger("coalwatch.web")

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "coalwatch_session"


def _ensure_roles(sessions: sessionmaker[Session], clock: Clock) -> None:
    try:
        with transaction(sessions) as session:
            ensure_builtin_roles(session, clock())
    except DBAPIError:  # not migrated yet: `coalwatch db upgrade` creates them
        log.warning("the built-in roles could not be checked (is the database migrated?)")


def make_forwarder(settings: Settings, sessions: sessionmaker[Session]) -> Forwarder | None:
    """The sender to the upstream center, when there is one (its sessions then queue
    their changes for it)."""
    if not settings.upstream_url:
        return None
    enable_forwarding(sessions, settings.center_code)
    key_file = settings.center_key_file
    return forwarder_from_settings(
        settings.upstream_url,
        settings.center_code,
        None if key_file is None else str(key_file),
        write_off_after_s=settings.forward_write_off_after_s,
        upstream_public_key=settings.upstream_public_key,
    )


@dataclass
class BackgroundJobs:
    """The timed work of a center (timed rules, reports, forwarding, video, backups,
    integrity, exchange files), run by the holder of the jobs lease."""

    leader: Leader
    scheduler: Scheduler

    def stop(self) -> None:
        self.scheduler.stop()
        self.leader.stop()


def start_jobs(
    settings: Settings,
    sessions: sessionmaker[Session],
    broker: Broker,
    clock: Clock,
    forwarder: Forwarder | None,
) -> BackgroundJobs:
    """Claim the jobs lease and run the rounds while holding it: beside the web server
    (``coalwatch serve``) or alone (``coalwatch jobs``). With several processes on one
    database the lease decides which one runs them (jobs/leader.py)."""
    leader = Leader(Lease(sessions, ttl_s=settings.jobs_lease_s))
    leader.start()
    scheduler = Scheduler(
        sessions,
        broker,
        clock,
        settings.jobs_interval_s,
        forwarder=forwarder,
        leader=leader,
        video=VideoJob(settings),
        backups=BackupJob.from_settings(settings),
        integrity=IntegrityJob(settings),
        exchange=ExchangeJob.from_settings(settings),
        partitions=PartitionJob.from_settings(settings),
    )
    scheduler.start()
    return BackgroundJobs(leader, scheduler)


_caches_lock = threading.Lock()
_caches_connected = False


def connect_caches() -> None:
    """The facts each process keeps (storage/facts.py) are forgotten in every process on
    the database: a commit of a fact announces its table (events/invalidation.py, through
    the relay on PostgreSQL), and an announcement, from here or elsewhere, forgets it."""
    global _caches_connected
    with _caches_lock:
        if not _caches_connected:
            facts.announce_with(invalidation.announce)
            invalidation.register(facts.forget)
            _caches_connected = True


def start_relay(settings: Settings, broker: Broker) -> PgRelay | None:
    """On PostgreSQL, the link to the other center processes on the database."""
    if not uses_relay(settings.resolved_database_url):
        return None
    relay = PgRelay(settings.resolved_database_url, broker, settings.db_connect_timeout_s)
    relay.start()
    return relay


def run_jobs(settings: Settings, stop: threading.Event, clock: Clock = system_clock) -> None:
    """``coalwatch jobs``: the background jobs in a process of their own, until ``stop``.
    Its events (alarms of the timed rules, the center's outages) reach the browsers of
    the web processes through the database (PostgreSQL)."""
    use_secret_key(session_secret(settings))
    connect_caches()
    engine = make_engine(settings.resolved_database_url, settings.db_timeouts)
    sessions = make_sessionmaker(engine)
    broker = Broker()
    if not uses_relay(settings.resolved_database_url):
        log.warning(
            "on SQLite the live events of the jobs (alarms of the timed rules) do not reach "
            "the browsers of the web server: run the jobs in `coalwatch serve` instead"
        )
    _ensure_roles(sessions, clock)
    relay = start_relay(settings, broker)
    jobs = start_jobs(settings, sessions, broker, clock, make_forwarder(settings, sessions))
    log.info("the jobs process runs as %s", jobs.leader.lease.holder)
    try:
        stop.wait()
    finally:
        jobs.stop()
        if relay is not None:
            relay.stop()
        engine.dispose()


def app_from_environment() -> FastAPI:
    """The app of a worker of ``coalwatch serve --workers N`` (settings from the
    environment the command prepared)."""
    app = create_app(load_settings())
    settle_heap()
    return app


def settle_heap() -> None:
    """For a long-running process once it is built: what exists now (modules, mappings,
    schemas, routes: some 260,000 objects) lives as long as the process, so the garbage
    collector stops scanning it. A full collection of them stops every thread for
    100-300 ms, under ingest load every thousand batches or so."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings, clock: Clock = system_clock) -> FastAPI:
    """The web server: the API, the pages, station uploads (HTTP and MQTT); and, unless
    ``settings.jobs`` is off (``serve --no-jobs``, ``serve --workers N``), the background
    jobs in the same process."""
    use_secret_key(session_secret(settings))
    connect_caches()
    engine = make_engine(settings.resolved_database_url, settings.db_timeouts)
    sessions = make_sessionmaker(engine)
    broker = Broker()
    forwarder = make_forwarder(settings, sessions)
    arrivals = Arrivals()
    committer = committer_for(settings, sessions, broker, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _ensure_roles(sessions, clock)
        committer.start()
        relay = start_relay(settings, broker)
        jobs = None
        horizon = HorizonReporter(sessions, arrivals, clock)
        horizon.start()
        # station batches over MQTT beside HTTP, when a broker is configured
        mqtt_ingest = ingest_from_settings(settings, sessions, clock, broker, committer, arrivals)
        gateways = gateways_from_settings(settings, sessions, clock)
        for subscriber in (mqtt_ingest, gateways):
            if subscriber is not None:
                subscriber.start()
        if settings.jobs:
            jobs = start_jobs(settings, sessions, broker, clock, forwarder)
        try:
            yield
        finally:
            for subscriber in (mqtt_ingest, gateways):
                if subscriber is not None:
                    subscriber.stop()
            committer.stop()  # the uploads queued are committed and answered
            if jobs is not None:
                jobs.stop()
            horizon.stop()
            if relay is not None:
                relay.stop()
            limiter = _app.state.coalwatch.limiter
            if isinstance(limiter, DatabaseRateLimiter):
                limiter.engine.dispose()
            engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="coalwatch monitoring center",
        version=__version__,
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # served from the center's own files: web/api_docs.py
        redoc_url=None,
    )
    app.state.coalwatch = AppState(
        settings=settings,
        sessions=sessions,
        clock=clock,
        broker=broker,
        committer=committer,
        limiter=limiter_for(settings.resolved_database_url, settings.db_timeouts),
    )
    errors.install(app)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_hours * 3600,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(RequestGuard)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BlankQueryParameters)
    app.add_middleware(ArrivalsMiddleware, arrivals=arrivals, clock=clock)
    for router in (
        orgs_router,
        mines_router,
        ingest_router,
        production_router,
        alarms_router,
        limits_router,
        faults_router,
        permits_router,
        records_router,
        duty_router,
        workflows_router,
        status_router,
        settlement_router,
        reports_router,
        events_router,
        federation_router,
        backups_router,
        jobs_router,
        video_router,
        region_router,
        people_router,
        routines_router,
        signals_router,
        stationconfig_router,
        suspects_router,
        acceptance_router,
        penalties_router,
        archive_router,
        summaries_router,
        notices_router,
    ):
        app.include_router(router, prefix=API)

    for pages in (
        users_pages,
        monitor_pages,
        alarms_pages,
        production_pages,
        mines_pages,
        permits_pages,
        records_pages,
        duty_pages,
        workflows_pages,
        orgs_pages,
        audit_pages,
        auth_pages,
        backups_pages,
        reports_pages,
        video_pages,
        region_pages,
        settlement_pages,
        people_pages,
        routines_pages,
        suspects_pages,
        acceptance_pages,
        penalties_pages,
        archive_pages,
        summaries_pages,
        notices_pages,
    ):
        app.include_router(pages)
    app.include_router(docs_router(f"{API}/docs", f"{API}/openapi.json", app.title))
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(document_schemas())
            components.update(_error_schemas())
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    _document_errors(operation)
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


ERRORS = {
    "400": "malformed request",
    "401": "missing, unknown or revoked token; bad station signature",
    "403": "the token may not do this",
    "404": "no such resource in the token's scope",
    "409": "conflicts with the current state",
    "422": "invalid input; the message says which field and why",
    "429": "the token's rate limit is spent: retry after `Retry-After` seconds",
}
#: headers documented with an error status
ERROR_HEADERS: dict[str, dict[str, Any]] = {
    "429": {
        "Retry-After": {
            "description": "seconds until the token may make its next request",
            "schema": {"type": "integer", "minimum": 1},
        }
    }
}


def _error_schemas() -> dict[str, Any]:
    return {
        "ErrorBody": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "examples": ["invalid"]},
                        "message": {"type": "string"},
                        "details": {},
                    },
                }
            },
        }
    }


def _document_errors(operation: dict[str, Any]) -> None:
    """Every operation answers errors in one documented shape (contract.md)."""
    responses = operation.setdefault("responses", {})
    for status, description in ERRORS.items():
        responses[status] = {
            "description": responses.get(status, {}).get("description", description),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
        if status in ERROR_HEADERS:
            responses[status]["headers"] = ERROR_HEADERS[status]
