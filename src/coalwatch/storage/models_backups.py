"""Tables of the backup ledger (issue 9) (migration 0010).

Imported by coalwatch.storage.models, so that they are part of the metadata.
"""

from __future__ import annotations
