"""Tables of upward fault reports and more forwarded kinds (issue 7) (migration 0012).

Imported by coalwatch.storage.models, so that they are part of the metadata.
"""

from __future__ import annotations
