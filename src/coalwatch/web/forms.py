"""Configuration forms: parse the posted fields into the feature's pydantic schema, call one
service function, and come back to the page with a message (post/redirect/get)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any, TypeVar

from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from coalwatch.errors import CoalwatchError
from coalwatch.web.pages import CSRF_FIELD, Page, error_text

Model = TypeVar("Model", bound=BaseModel)


async def submit(
    page: Page,
    schema: type[Model],
    action: Callable[[Session, Model], object],
    *,
    back: str,
    done: str,
    local_times: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Response:
    """Validate the form as ``schema`` and run ``action`` in one transaction.

    ``local_times`` are datetime-local fields, read in the deployment's time zone. A
    refusal (403) is raised as such; any other error comes back as a message on the page
    (an object out of scope reads "not found", the same as one that does not exist).
    """
    form = await page.request.form()
    data: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key == CSRF_FIELD or key in exclude or not isinstance(value, str):
            continue
        value = value.strip()
        if value == "":
            continue
        if key in local_times:
            with suppress(ValueError):  # else the schema says what is wrong
                local = datetime.fromisoformat(value).replace(tzinfo=page.state.settings.tz)
                value = local.isoformat()
        data[key] = value

    def work() -> None:
        model = schema.model_validate(data)
        with page.session() as session:
            action(session, model)

    try:
        await run_in_threadpool(work)
    except ValidationError as exc:
        page.flash(error_text(exc, page._), "error")
        return page.redirect(back)
    except CoalwatchError as exc:
        if exc.status in (401, 403):
            raise
        page.flash(error_text(exc, page._), "error")
        return page.redirect(back)
    return page.redirect(back, done)


def back_to(page: Page, path: str) -> str:
    """Where a form's act returns: the page it was sent from (its path and query, from
    ``path`` on: never another site) if that is ``path``, else ``path`` itself."""
    referer = page.request.headers.get("referer") or ""
    marker = referer.find(path)
    return referer[marker:] if marker >= 0 else path
