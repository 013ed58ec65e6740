"""The center's web application: API v1 (and, later, the pages)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from coalwatch import __version__
from coalwatch.alarms.api import router as alarms_router
from coalwatch.config import Settings
from coalwatch.events.api import router as events_router
from coalwatch.events.broker import Broker
from coalwatch.faults.api import router as faults_router
from coalwatch.ingest.api import document_schemas
from coalwatch.ingest.api import router as ingest_router
from coalwatch.jobs.scheduler import Scheduler
from coalwatch.mines.api import router as mines_router
from coalwatch.orgs.api import router as orgs_router
from coalwatch.permits.api import router as permits_router
from coalwatch.production.api import router as production_router
from coalwatch.storage.session import make_engine, make_sessionmaker
from coalwatch.web import errors
from coalwatch.web.context import AppState, Clock, system_clock

API = "/api/v1"

_INDEX = """<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<title>煤炭产量监控中心 coalwatch</title>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>煤炭产量监控中心</h1><p>coalwatch {version}</p>
<ul><li><a href="/api/v1/docs">API 文档 (OpenAPI)</a></li>
<li><a href="/api/v1/openapi.json">openapi.json</a></li></ul></body></html>"""


def create_app(settings: Settings, clock: Clock = system_clock) -> FastAPI:
    engine = make_engine(settings.resolved_database_url)
    sessions = make_sessionmaker(engine)
    broker = Broker()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        scheduler = None
        if settings.jobs:
            scheduler = Scheduler(sessions, broker, clock, settings.jobs_interval_s)
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()
            engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="coalwatch monitoring center",
        version=__version__,
        openapi_url=f"{API}/openapi.json",
        docs_url=f"{API}/docs",
        redoc_url=None,
    )
    app.state.coalwatch = AppState(settings=settings, sessions=sessions, clock=clock, broker=broker)
    errors.install(app)
    for router in (
        orgs_router,
        mines_router,
        ingest_router,
        production_router,
        alarms_router,
        faults_router,
        permits_router,
        events_router,
    ):
        app.include_router(router, prefix=API)

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(_INDEX.format(version=__version__))

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
