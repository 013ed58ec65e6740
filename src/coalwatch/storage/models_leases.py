"""Tables of leader lease for background jobs (issue 9) (migration 0011).

Imported by coalwatch.storage.models, so that they are part of the metadata.
"""

from __future__ import annotations
