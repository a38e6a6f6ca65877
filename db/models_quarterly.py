"""The mentor's quarterly report on a pair and the curator's decision on it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow


class QuarterlyReport(Base):
    """One mentor's report on one pair for one calendar quarter (`quarter`: "2026Q4", the
    quarter reported on). The answers live in the engine's QuestionnaireResponse with stage
    "quarter:<id>"; `status`: invited → submitted → accepted, or returned (with the
    curator's `comment`, personal: /forget erases it) → submitted again. `submissions`
    counts the submissions: a curator's buttons name the one they were sent for."""

    __tablename__ = "quarterly_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id"))
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"), index=True)
    quarter: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("questionnaire_responses.id", ondelete="SET NULL")
    )
    submissions: Mapped[int] = mapped_column(Integer, default=0)
    invited_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[dt.datetime | None] = mapped_column()
    reviewed_at: Mapped[dt.datetime | None] = mapped_column()
    reviewed_by: Mapped[int | None] = mapped_column(Integer)  # the curator's participant id
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("pair_id", "membership_id", "quarter", name="quarterly_once"),
        Index("ix_quarterly_reports_reviewed_by", "reviewed_by"),
    )
