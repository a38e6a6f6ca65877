"""The pair's working cycle and delivery: meetings, the journal, plans, broadcasts,
surveys, the outbox, the audit log, dialog state and the demo clock."""

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
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, check_in, utcnow
from db.enums import BroadcastStatus, MeetingKind, MeetingStatus, OutboxStatus


class Meeting(Base):
    """One meeting of a pair, or of a mentor's group (then group_key is set and pair_id is
    the group's first pair). The mentor journal is the logged part."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id"), index=True)
    group_key: Mapped[str | None] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=MeetingStatus.PROPOSED)
    starts_at: Mapped[dt.datetime] = mapped_column()
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)  # planned
    place: Mapped[str | None] = mapped_column(String(300))
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    # Whose answer a proposal waits for: "mentor" or "mentee".
    awaiting_role: Mapped[str | None] = mapped_column(String(8))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column()
    cancelled_at: Mapped[dt.datetime | None] = mapped_column()
    cancelled_by: Mapped[int | None] = mapped_column(Integer)  # participant id
    reminded_24h_at: Mapped[dt.datetime | None] = mapped_column()
    reminded_1h_at: Mapped[dt.datetime | None] = mapped_column()
    # The journal: asked of the mentor after the end, filled in by them.
    log_requested_at: Mapped[dt.datetime | None] = mapped_column()
    logged_at: Mapped[dt.datetime | None] = mapped_column()
    logged_by: Mapped[int | None] = mapped_column(Integer)  # participant id
    actual_minutes: Mapped[int | None] = mapped_column(Integer)
    topics: Mapped[str | None] = mapped_column(Text)
    next_steps: Mapped[str | None] = mapped_column(Text)
    # {goal_id: progress percent} as marked while logging.
    goal_progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint(check_in("kind", MeetingKind), name="kind"),
        CheckConstraint(check_in("status", MeetingStatus), name="status"),
        CheckConstraint("duration_minutes BETWEEN 5 AND 600", name="duration"),
        # The reminder and journal jobs ask: which confirmed meetings start in this window?
        Index("ix_meetings_due", "status", "starts_at"),
    )


class MeetingFeedback(Base):
    """A mentee's word on a logged meeting: did it take place, and a 1-5 rating."""

    __tablename__ = "meeting_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"), index=True)
    took_place: Mapped[bool | None] = mapped_column(Boolean)
    rating: Mapped[int | None] = mapped_column(Integer)
    requested_at: Mapped[dt.datetime | None] = mapped_column()
    answered_at: Mapped[dt.datetime | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("meeting_id", "membership_id", name="feedback_once"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating"),
    )


class Plan(Base):
    """The pair's individual plan (development trajectory): 1-5 goals with tasks."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id"), unique=True)
    created_by: Mapped[int | None] = mapped_column(Integer)  # participant id
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    goals: Mapped[list[PlanGoal]] = relationship(
        cascade="all, delete-orphan", order_by="PlanGoal.position"
    )


class PlanGoal(Base):
    __tablename__ = "plan_goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    target_date: Mapped[dt.date | None] = mapped_column(Date)
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    done_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    tasks: Mapped[list[PlanTask]] = relationship(
        cascade="all, delete-orphan", order_by="PlanTask.position"
    )

    __table_args__ = (
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        CheckConstraint("position BETWEEN 1 AND 5", name="position"),
    )


class PlanTask(Base):
    __tablename__ = "plan_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(
        ForeignKey("plan_goals.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    done_at: Mapped[dt.datetime | None] = mapped_column()


class Broadcast(Base):
    """A curator's announcement to a segment; its messages are outbox rows with batch
    'bc:<id>', so progress is a count of those rows."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    segment: Mapped[str] = mapped_column(String(48))
    text: Mapped[str | None] = mapped_column(Text)  # cleared when done
    total: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=BroadcastStatus.DRAFT)
    # Where the curator watches the progress ("отправлено 120 из 300").
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()

    __table_args__ = (CheckConstraint(check_in("status", BroadcastStatus), name="status"),)


class ClockOffset(Base):
    """The demo/test clock (CLOCK_CONTROL=1): the bot's time is real time plus this offset,
    set by `python -m bot admin clock ...` and read by the running bot every second."""

    __tablename__ = "clock_offset"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    offset_seconds: Mapped[float] = mapped_column(default=0.0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SurveyResponse(Base):
    """Feedback polls at stage milestones and the final satisfaction survey."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[str] = mapped_column(String(64))
    survey_version: Mapped[int] = mapped_column(Integer)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    pair_id: Mapped[int | None] = mapped_column(ForeignKey("pairs.id"))
    milestone: Mapped[str | None] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 1-10, for the KPI
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    submitted_at: Mapped[dt.datetime | None] = mapped_column()
    # Polls (0006): the engine's response holding the answers, the one reminder, the close,
    # and when the poll job looks at this row next (NULL once answered or closed).
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("questionnaire_responses.id", ondelete="SET NULL")
    )
    reminded_at: Mapped[dt.datetime | None] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    due_at: Mapped[dt.datetime | None] = mapped_column(index=True)

    __table_args__ = (
        UniqueConstraint("survey_id", "membership_id", "milestone", "pair_id", name="once"),
        Index("ix_survey_responses_survey", "survey_id", "submitted_at"),
        Index("ix_survey_responses_pair", "pair_id", "membership_id"),
    )


class OutboxMessage(Base):
    """Everything that is not a direct reply goes out through here, with rate limits."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(32), default="sendMessage")
    # Who it is for (participant id, no FK: rows outlive nothing personal once sent),
    # whose quiet hours apply, and which bulk send it belongs to ("bc:<broadcast id>").
    participant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    organisation_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str | None] = mapped_column(String(32))
    batch: Mapped[str | None] = mapped_column(String(32))
    # Not worth sending after this moment (a reminder of a meeting that has begun).
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    # Cleared once sent, so delivered texts (names in introductions) are not kept.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column()

    __table_args__ = (
        CheckConstraint(check_in("status", OutboxStatus), name="status"),
        Index("ix_outbox_due", "status", "not_before"),
        Index("ix_outbox_batch", "batch", "status"),
    )


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    action: Mapped[str] = mapped_column(String(48))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(Integer)
    # Ids and codes only, never names or free text.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_audit_log_org_at", "organisation_id", "at"),)


class FsmRecord(Base):
    """Dialog state of aiogram's FSM, so a restart never drops a conversation."""

    __tablename__ = "fsm_states"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Attachment(Base):
    """A file a participant attached to their final report (their portfolio): the bytes
    live in the file storage (settings.files_dir) under the opaque `storage_key`."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_responses.id", ondelete="CASCADE"), index=True
    )
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"), index=True)
    pair_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # photo | document
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    file_unique_id: Mapped[str] = mapped_column(String(128))  # Telegram's, to skip repeats
    file_name: Mapped[str | None] = mapped_column(String(255))  # personal: erased by /forget
    mime_type: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("response_id", "file_unique_id", name="attachment_once"),
    )
