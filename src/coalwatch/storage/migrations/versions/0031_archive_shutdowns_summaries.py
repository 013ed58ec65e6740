"""document archive, shutdown declarations' written reports and resumption, summaries
upward

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 13:00:00.000000

- ``archive_documents``: the documents of a mine's or a center's archive 档案 (the file
  lies in the content-addressed store under its SHA-256).
- ``shutdowns``: the written report 书面报告 and when it was filed, late declarations,
  resumption 复产 and its acknowledgement.
- ``summary_revisions`` / ``summary_signatures``: the month-end and year-end summaries
  and the abnormal-situation report, signed and submitted upward;
  ``received_summaries``: the ones an upstream center received.

Written by hand.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "archive_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mine_id", sa.Integer(), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", _UTC, nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_role", sa.String(length=32), nullable=True),
        sa.Column("approved_at", _UTC, nullable=True),
        sa.Column("replaced_at", _UTC, nullable=True),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        sa.Column("deleted_at", _UTC, nullable=True),
        sa.Column("deleted_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name=op.f("fk_archive_documents_mine_id_mines")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_archive_documents_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"],
            ["archive_documents.id"],
            name=op.f("fk_archive_documents_replaced_by_id_archive_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_documents")),
    )
    op.create_index(
        "ix_archive_documents_mine_kind", "archive_documents", ["mine_id", "kind"], unique=False
    )
    op.create_index(
        "ix_archive_documents_org_kind", "archive_documents", ["org_id", "kind"], unique=False
    )
    op.create_index(
        op.f("ix_archive_documents_sha256"), "archive_documents", ["sha256"], unique=False
    )
    with op.batch_alter_table("shutdowns") as batch:
        batch.add_column(sa.Column("report_document_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("report_filed_at", _UTC, nullable=True))
        batch.add_column(sa.Column("late", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("resume_at", _UTC, nullable=True))
        batch.add_column(sa.Column("resumption_requested_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("resumption_requested_at", _UTC, nullable=True))
        batch.add_column(sa.Column("resumption_acknowledged_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("resumption_acknowledged_at", _UTC, nullable=True))
        batch.create_foreign_key(
            op.f("fk_shutdowns_report_document_id_archive_documents"),
            "archive_documents",
            ["report_document_id"],
            ["id"],
        )
    op.create_table(
        "summary_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mine_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("generated_by", sa.String(length=200), nullable=False),
        sa.Column("generated_at", _UTC, nullable=False),
        sa.Column("submitted_at", _UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name=op.f("fk_summary_revisions_mine_id_mines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summary_revisions")),
        sa.UniqueConstraint(
            "mine_id",
            "kind",
            "period",
            "revision",
            name=op.f("uq_summary_revisions_mine_id_kind_period_revision"),
        ),
    )
    op.create_table(
        "summary_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("signer", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("signed_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["summary_revisions.id"],
            name=op.f("fk_summary_signatures_revision_id_summary_revisions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_summary_signatures_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summary_signatures")),
        sa.UniqueConstraint(
            "revision_id", "role", name=op.f("uq_summary_signatures_revision_id_role")
        ),
    )
    op.create_index(
        op.f("ix_summary_signatures_revision_id"),
        "summary_signatures",
        ["revision_id"],
        unique=False,
    )
    op.create_table(
        "received_summaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("mine_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("signatures", sa.Text(), nullable=False),
        sa.Column("submitted_at", _UTC, nullable=False),
        sa.Column("received_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["downstream_centers.id"],
            name=op.f("fk_received_summaries_center_id_downstream_centers"),
        ),
        sa.ForeignKeyConstraint(
            ["mine_id"], ["mines.id"], name=op.f("fk_received_summaries_mine_id_mines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_summaries")),
        sa.UniqueConstraint(
            "mine_id",
            "kind",
            "period",
            "revision",
            name=op.f("uq_received_summaries_mine_id_kind_period_revision"),
        ),
    )
    op.create_index(
        op.f("ix_received_summaries_center_id"),
        "received_summaries",
        ["center_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_received_summaries_center_id"), table_name="received_summaries")
    op.drop_table("received_summaries")
    op.drop_index(op.f("ix_summary_signatures_revision_id"), table_name="summary_signatures")
    op.drop_table("summary_signatures")
    op.drop_table("summary_revisions")
    with op.batch_alter_table("shutdowns") as batch:
        batch.drop_constraint(
            op.f("fk_shutdowns_report_document_id_archive_documents"), type_="foreignkey"
        )
        for name in (
            "resumption_acknowledged_at",
            "resumption_acknowledged_by",
            "resumption_requested_at",
            "resumption_requested_by",
            "resume_at",
            "late",
            "report_filed_at",
            "report_document_id",
        ):
            batch.drop_column(name)
    op.drop_index(op.f("ix_archive_documents_sha256"), table_name="archive_documents")
    op.drop_index("ix_archive_documents_org_kind", table_name="archive_documents")
    op.drop_index("ix_archive_documents_mine_kind", table_name="archive_documents")
    op.drop_table("archive_documents")
