"""The vocabulary of the data model: roles, forms, statuses and kinds.

Stored as short strings validated by CHECK constraints (see `db/models.py`), which keeps the
schema portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    MENTEE = "mentee"
    MENTOR = "mentor"
    CURATOR = "curator"
    COORDINATOR = "coordinator"


class Form(StrEnum):
    STUDENT_STUDENT = "student-student"
    TEACHER_TEACHER = "teacher-teacher"
    TEACHER_STUDENT = "teacher-student"
    STUDENT_PUPIL = "student-pupil"
    EMPLOYER_PUPIL = "employer-pupil"
    EMPLOYER_STUDENT = "employer-student"


class Category(StrEnum):
    STUDENT = "student"
    PUPIL = "pupil"
    TEACHER = "teacher"
    EMPLOYER = "employer"


class AgeGroup(StrEnum):
    ADULT = "adult"  # 18 and over
    TEEN = "teen"  # 14-17: own consent and a guardian's
    CHILD = "child"  # under 14: only a guardian's consent counts


class ParticipantStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    UNREACHABLE = "unreachable"  # blocked the bot
    FORGOTTEN = "forgotten"  # consent withdrawn, personal data erased


class MembershipStatus(StrEnum):
    CONSENT_PENDING = "consent_pending"
    GUARDIAN_PENDING = "guardian_pending"
    DECLINED = "declined"
    QUESTIONNAIRE = "questionnaire"
    IN_BASE = "in_base"
    PAIRED = "paired"
    COMPLETED = "completed"
    PAUSED = "paused"
    WITHDRAWN = "withdrawn"


class ConsentKind(StrEnum):
    SELF = "self"
    GUARDIAN = "guardian"
    PAPER = "paper"  # signed paper consent recorded by a curator


class ConsentDecision(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class InviteKind(StrEnum):
    MENTEE = "mentee"
    MENTOR = "mentor"
    CURATOR = "curator"
    GUARDIAN = "guardian"


class ResponseStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    DONE = "done"


class PairStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    INTRO = "intro"
    TRIAL = "trial"
    PLANNING = "planning"
    REGULAR = "regular"
    FINAL = "final"
    COMPLETED = "completed"
    REJECTED = "rejected"
    ENDED = "ended"


ACTIVE_PAIR_STATUSES = (
    PairStatus.APPROVED,
    PairStatus.INTRO,
    PairStatus.TRIAL,
    PairStatus.PLANNING,
    PairStatus.REGULAR,
    PairStatus.FINAL,
)


class MeetingKind(StrEnum):
    INTRO = "intro"
    TRIAL = "trial"
    PLANNING = "planning"
    REGULAR = "regular"
    FINAL = "final"


class MeetingStatus(StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    HELD = "held"
    NOT_HELD = "not_held"
    CANCELLED = "cancelled"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    PARKED = "parked"
    EXPIRED = "expired"  # e.g. a reminder whose meeting began during the quiet hours


# The order a pair's meetings go in; a pair's stage follows the last kind held.
MEETING_SEQUENCE = (
    MeetingKind.INTRO,
    MeetingKind.TRIAL,
    MeetingKind.PLANNING,
    MeetingKind.REGULAR,
    MeetingKind.FINAL,
)


class PauseReason(StrEnum):
    HOLIDAYS = "holidays"
    ILLNESS = "illness"
    OTHER = "other"


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"
