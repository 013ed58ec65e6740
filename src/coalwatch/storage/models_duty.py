"""Tables of the duty log, shift handover and approval workflows (migration 0008).

Imported by coalwatch.storage.models, so that they are part of the metadata.
"""

from __future__ import annotations
