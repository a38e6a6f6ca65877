"""The data model for the whole mentoring cycle.

Times are stored in UTC (timezone-aware in Python, naive UTC in SQLite).
Enumerations are stored as short strings validated by CHECK constraints, which keeps
the schema portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import NAMING as NAMING
from db.base import Base as Base
from db.base import UTCDateTime as UTCDateTime
from db.base import check_in as _check_in
from db.base import utcnow as utcnow

# Re-exported: callers import the vocabulary together with the models.
from db.enums import (
    ACTIVE_PAIR_STATUSES as ACTIVE_PAIR_STATUSES,
)
from db.enums import (
    MEETING_SEQUENCE as MEETING_SEQUENCE,
)
from db.enums import (
    AgeGroup as AgeGroup,
)
from db.enums import (
    BroadcastStatus as BroadcastStatus,
)
from db.enums import (
    Category as Category,
)
from db.enums import (
    ConsentDecision as ConsentDecision,
)
from db.enums import (
    ConsentKind as ConsentKind,
)
from db.enums import (
    Form as Form,
)
from db.enums import (
    InviteKind as InviteKind,
)
from db.enums import (
    MeetingKind as MeetingKind,
)
from db.enums import (
    MeetingStatus as MeetingStatus,
)
from db.enums import (
    MembershipStatus as MembershipStatus,
)
from db.enums import (
    OutboxStatus as OutboxStatus,
)
from db.enums import (
    PairStatus as PairStatus,
)
from db.enums import (
    ParticipantStatus as ParticipantStatus,
)
from db.enums import (
    PauseReason as PauseReason,
)
from db.enums import (
    ResponseStatus as ResponseStatus,
)
from db.enums import (
    Role as Role,
)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # KPI denominators, entered by the curator (DOMAIN.md "KPIs").
    total_students: Mapped[int | None] = mapped_column(Integer)
    total_students_disabled: Mapped[int | None] = mapped_column(Integer)
    total_teachers: Mapped[int | None] = mapped_column(Integer)
    total_young_teachers: Mapped[int | None] = mapped_column(Integer)
    total_aged_15_19: Mapped[int | None] = mapped_column(Integer)
    # The working cycle's thresholds (issue 8), per organisation.
    # Quiet hours in local minutes after midnight: nothing is sent from..to (wrapping).
    quiet_from_min: Mapped[int] = mapped_column(Integer, default=22 * 60, server_default="1320")
    quiet_to_min: Mapped[int] = mapped_column(Integer, default=8 * 60, server_default="480")
    # No first meeting this many days after approval: the pair is nudged.
    nudge_first_days: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    # No meeting held for this many days: the pair is nudged.
    nudge_idle_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")
    # This many days after a nudge with nothing held: the curator is told.
    escalate_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    # Feedback polls: a 1-10 overall satisfaction at or above this counts as "satisfied".
    satisfied_from: Mapped[int] = mapped_column(Integer, default=8, server_default="8")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    programmes: Mapped[list[Programme]] = relationship(back_populates="organisation")


class Programme(Base):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    forms: Mapped[list[Any]] = mapped_column(JSON)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(Integer)  # participant id; no FK (cycle)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="programmes")

    __table_args__ = (CheckConstraint("end_date >= start_date", name="dates"),)


class Participant(Base):
    """A Telegram user known to the bot. Personal fields stay empty until consent."""

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    language: Mapped[str] = mapped_column(String(8), default="ru")
    # Personal data: only after consent, erased by /forget.
    full_name: Mapped[str | None] = mapped_column(String(200))
    tg_first_name: Mapped[str | None] = mapped_column(String(200))
    tg_username: Mapped[str | None] = mapped_column(String(64))
    contact: Mapped[str | None] = mapped_column(String(200))
    age_group: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=ParticipantStatus.ACTIVE)
    is_coordinator: Mapped[bool] = mapped_column(Boolean, default=False)
    # The programme a curator works on now; no FK to keep the schema free of cycles.
    current_programme_id: Mapped[int | None] = mapped_column(Integer)
    share_contacts: Mapped[bool] = mapped_column(Boolean, default=False)
    # /pause: nothing is sent to a paused person until this moment (status PAUSED).
    paused_until: Mapped[dt.datetime | None] = mapped_column(index=True)
    pause_reason: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    forgotten_at: Mapped[dt.datetime | None] = mapped_column()

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="participant", foreign_keys="Membership.participant_id"
    )

    __table_args__ = (
        CheckConstraint(_check_in("status", ParticipantStatus), name="status"),
        CheckConstraint(f"age_group IS NULL OR {_check_in('age_group', AgeGroup)}", name="age"),
    )


class Membership(Base):
    """A participant's role in one programme (mentee, mentor) or organisation (curator)."""

    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programmes.id"))
    role: Mapped[str] = mapped_column(String(16))
    form: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24), default=MembershipStatus.CONSENT_PENDING)
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    load: Mapped[int] = mapped_column(Integer, default=0)
    is_disabled_student: Mapped[bool] = mapped_column(Boolean, default=False)  # ОВЗ, for KPI
    invite_id: Mapped[int | None] = mapped_column(Integer)  # the invite used; no FK (cycle)
    full_cycle_at: Mapped[dt.datetime | None] = mapped_column()
    full_cycle_by: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    # A curator's access starts when the inviter confirms them (after the curator's terms).
    confirmed_at: Mapped[dt.datetime | None] = mapped_column()
    confirmed_by: Mapped[int | None] = mapped_column(Integer)  # participant id; no FK (cycle)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    participant: Mapped[Participant] = relationship(
        back_populates="memberships", foreign_keys=[participant_id]
    )
    programme: Mapped[Programme | None] = relationship()
    organisation: Mapped[Organisation] = relationship()

    __table_args__ = (
        UniqueConstraint("participant_id", "organisation_id", "programme_id", "role", name="role"),
        CheckConstraint(_check_in("role", Role), name="role"),
        CheckConstraint(_check_in("status", MembershipStatus), name="status"),
        CheckConstraint(f"form IS NULL OR {_check_in('form', Form)}", name="form"),
        # Capacity is enforced by the database: approvals increment load conditionally.
        CheckConstraint("load >= 0 AND load <= capacity", name="load"),
        CheckConstraint("capacity >= 0 AND capacity <= 50", name="capacity"),
        Index("ix_memberships_programme_role_status", "programme_id", "role", "status"),
    )


class Invite(Base):
    """An unguessable deep-link code: a role invitation or a guardian's consent request."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programmes.id"), index=True)
    # For guardian requests: the minor's membership awaiting consent.
    membership_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # A guardian link belongs to the first person who opens it: only they may decide.
    opened_by: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint(_check_in("kind", InviteKind), name="kind"),)


class Consent(Base):
    """Every consent decision, kept as a separate record (152-FZ: a separate document)."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    membership_id: Mapped[int | None] = mapped_column(ForeignKey("memberships.id"))
    kind: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    guardian_telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint(_check_in("kind", ConsentKind), name="kind"),
        CheckConstraint(_check_in("decision", ConsentDecision), name="decision"),
        Index("ix_consents_participant_org", "participant_id", "organisation_id", "created_at"),
    )


class QuestionnaireResponse(Base):
    """One filling of a questionnaire (or a self-assessment: stage entry/exit)."""

    __tablename__ = "questionnaire_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    questionnaire_id: Mapped[str] = mapped_column(String(64))
    questionnaire_version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16), default="onboarding")  # onboarding|entry|exit
    status: Mapped[str] = mapped_column(String(16), default=ResponseStatus.IN_PROGRESS)
    current_question: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column()

    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", order_by="Answer.id"
    )

    __table_args__ = (
        UniqueConstraint("membership_id", "questionnaire_id", "stage", name="stage"),
        CheckConstraint(_check_in("status", ResponseStatus), name="status"),
        Index("ix_questionnaire_responses_status", "status", "stage"),
    )


class Answer(Base):
    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_responses.id", ondelete="CASCADE")
    )
    question_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    is_personal: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    response: Mapped[QuestionnaireResponse] = relationship(back_populates="answers")

    __table_args__ = (UniqueConstraint("response_id", "question_id", name="question"),)


class Pair(Base):
    """A mentor-mentee link; a group is several pairs sharing a group_key."""

    __tablename__ = "pairs"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"))
    mentor_membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"), index=True)
    mentee_membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"), index=True)
    form: Mapped[str] = mapped_column(String(32))
    group_key: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=PairStatus.PROPOSED)
    score: Mapped[float | None] = mapped_column()
    reasons: Mapped[list[Any] | None] = mapped_column(JSON)
    match_run_id: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Inactivity nudges: when to look at this pair next, and how far it has gone
    # (0 nothing sent, 1 the pair nudged, 2 the curator told). Indexed, so the job's
    # cost follows what is due, not how many pairs there are.
    next_check_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    nudge_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    events: Mapped[list[PairEvent]] = relationship(order_by="PairEvent.id")

    __table_args__ = (
        CheckConstraint(_check_in("status", PairStatus), name="status"),
        Index("ix_pairs_programme_status", "programme_id", "status"),
        # Replaced proposals are deleted; ids in old buttons must never point at new pairs.
        {"sqlite_autoincrement": True},
    )


class PairEvent(Base):
    """Status history of a pair: every transition with who and when."""

    __tablename__ = "pair_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MatchPreference(Base):
    """A pick made in a preference round after a group ("speed") meeting."""

    __tablename__ = "match_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("preference_rounds.id"), index=True)
    chooser_membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    chosen_membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    rank: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("round_id", "chooser_membership_id", "chosen_membership_id", name="pick"),
        CheckConstraint("rank BETWEEN 1 AND 3", name="rank"),
    )


class PreferenceRound(Base):
    __tablename__ = "preference_rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column()


# Re-exported: the working cycle's models live in their own module.
from db.models_cycle import Attachment as Attachment  # noqa: E402
from db.models_cycle import AuditLog as AuditLog  # noqa: E402
from db.models_cycle import Broadcast as Broadcast  # noqa: E402
from db.models_cycle import ClockOffset as ClockOffset  # noqa: E402
from db.models_cycle import FsmRecord as FsmRecord  # noqa: E402
from db.models_cycle import Meeting as Meeting  # noqa: E402
from db.models_cycle import MeetingFeedback as MeetingFeedback  # noqa: E402
from db.models_cycle import OutboxMessage as OutboxMessage  # noqa: E402
from db.models_cycle import Plan as Plan  # noqa: E402
from db.models_cycle import PlanGoal as PlanGoal  # noqa: E402
from db.models_cycle import PlanTask as PlanTask  # noqa: E402
from db.models_cycle import SurveyResponse as SurveyResponse  # noqa: E402
from db.models_quarterly import QuarterlyReport as QuarterlyReport  # noqa: E402
from db.models_reports import KpiTarget as KpiTarget  # noqa: E402
from db.models_reports import OrgTotals as OrgTotals  # noqa: E402
