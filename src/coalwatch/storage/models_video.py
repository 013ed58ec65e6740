"""Tables of cameras and snapshots (issue 8) (migration 0009).

Imported by coalwatch.storage.models, so that they are part of the metadata.
"""

from __future__ import annotations
