"""A penalty decision 行政处罚决定书 as a printable A4 PDF."""

from __future__ import annotations

from datetime import datetime

from coalwatch.adapters.documents import render_html, render_pdf
from coalwatch.domain import penalties as rules
from coalwatch.penalties.schemas import PenaltyOut


def _range(r: rules.FineRange) -> str:
    return f"{r.low:,} – {r.high:,}"


def decision_html(penalty: PenaltyOut, generated: datetime) -> str:
    return render_html(
        "penalties/decision_pdf.html",
        p=penalty,
        status=rules.STATUS_LABELS[penalty.status],
        ranges={party: _range(r) for party, r in rules.PARTY_RANGES.items()},
        evidence_labels=rules.EVIDENCE_LABELS,
        manner_article=rules.MANNER_ARTICLE,
        generated=generated.isoformat(timespec="seconds"),
    )


def decision_pdf(penalty: PenaltyOut, generated: datetime) -> bytes:
    return render_pdf(decision_html(penalty, generated))
