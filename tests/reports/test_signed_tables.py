"""The daily report and the summaries keep their revisions and signatures in tables of
one declaration (coalwatch.reports.models): the same signed columns, of the same types,
in both."""

from __future__ import annotations

from coalwatch.reports.models import (
    ReportRevision,
    ReportSignature,
    SignatureColumns,
    SignedRevisionColumns,
)
from coalwatch.summaries.models import SummaryRevision, SummarySignature

REVISION = ("id", "mine_id", "revision", "content", "sha256", "generated_by", "generated_at")
SIGNATURE = ("id", "revision_id", "role", "signer", "user_id", "sha256", "signed_at")


def _shape(model: type, names: tuple[str, ...]) -> list[tuple[str, str, bool]]:
    table = model.__table__  # type: ignore[attr-defined]
    return [(n, repr(table.c[n].type), bool(table.c[n].nullable)) for n in names]


def test_reports_and_summaries_share_one_declaration_of_their_signed_tables() -> None:
    assert issubclass(ReportRevision, SignedRevisionColumns)
    assert issubclass(SummaryRevision, SignedRevisionColumns)
    assert issubclass(ReportSignature, SignatureColumns)
    assert issubclass(SummarySignature, SignatureColumns)
    assert _shape(ReportRevision, (*REVISION, "submitted_at")) == _shape(
        SummaryRevision, (*REVISION, "submitted_at")
    )
    assert _shape(ReportSignature, SIGNATURE) == _shape(SummarySignature, SIGNATURE)
    revisions = {
        fk.target_fullname
        for model in (ReportSignature, SummarySignature)
        for fk in model.__table__.c.revision_id.foreign_keys  # type: ignore[attr-defined]
    }
    assert revisions == {"report_revisions.id", "summary_revisions.id"}
