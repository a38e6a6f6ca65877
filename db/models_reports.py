"""What the curator and coordinator reports need beyond the working cycle: the organisation's
totals per year (the KPI denominators, entered with /totals) and the KPI targets per year
(edited by the coordinator; the seeds' targets apply where no row is stored).

The ОВЗ mark itself is `Membership.is_disabled_student` (set by a curator on the card)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow
from db.models_cycle import SurveyResponse


class OrgTotals(Base):
    """An organisation's headcounts for one calendar year; NULL: not entered yet."""

    __tablename__ = "org_totals"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    year: Mapped[int] = mapped_column(Integer)
    students: Mapped[int | None] = mapped_column(Integer)
    students_disabled: Mapped[int | None] = mapped_column(Integer)  # with ОВЗ
    teachers: Mapped[int | None] = mapped_column(Integer)
    young_teachers: Mapped[int | None] = mapped_column(Integer)  # under 35, first 3 years
    aged_15_19: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[int | None] = mapped_column(Integer)  # participant id
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("organisation_id", "year", name="org_year"),
        CheckConstraint(
            "COALESCE(students, 0) >= 0 AND COALESCE(students_disabled, 0) >= 0"
            " AND COALESCE(teachers, 0) >= 0 AND COALESCE(young_teachers, 0) >= 0"
            " AND COALESCE(aged_15_19, 0) >= 0",
            name="non_negative",
        ),
    )


class KpiTarget(Base):
    """A coordinator's target for one indicator (`code`, see bot.services.reports.kpi) in one
    organisation and year, in percent."""

    __tablename__ = "kpi_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    year: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(24))
    target_pct: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[int | None] = mapped_column(Integer)  # participant id
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("organisation_id", "year", "code", name="org_year_code"),
        CheckConstraint("target_pct >= 0 AND target_pct <= 100", name="pct"),
    )


# The reports count an organisation's poll answers from its memberships: without this index
# PostgreSQL would hash-join every answer in the region (SQLite skip-scans the unique key).
Index("ix_survey_responses_membership", SurveyResponse.membership_id)
