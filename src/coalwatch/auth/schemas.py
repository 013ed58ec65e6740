from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class TokenOut(BaseModel):
    """An API token as it is listed: never its secret (only a digest is stored anyway)."""

    id: int
    name: str
    #: the org code of the subtree it sees; None: the whole tree
    scope: str | None
    #: "write", "read" or "third-party read"
    access: str
    rate_limit_per_min: int | None
    created_at: datetime
    revoked_at: datetime | None
