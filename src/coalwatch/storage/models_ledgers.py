"""Tables of equipment, maintenance, calibration runs, UPS tests (issue 6) (migration 0007).

Imported by coalwatch.storage.models, so that they are part of the metadata.
"""

from __future__ import annotations
