"""The values of the pairing step: people as the screens show them, notices for
other people, and the results the handlers turn into words."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from bot.services import matching
from bot.services.matching import Score, Weights
from db.models import (
    Pair,
    ParticipantStatus,
    PreferenceRound,
)

MAX_PICKS = 3
# Blocked the bot: still pairable (they may come back); the curator is told who was not reached.
PAIRABLE = (ParticipantStatus.ACTIVE, ParticipantStatus.UNREACHABLE)
MAX_CANDIDATES = 20  # people listed in one preference message
MAX_CAPACITY = 50  # the memberships CHECK constraint
CONTACT_SHARED = "contact_shared"  # PairEvent.to_status when a side agrees to share contacts
RUN_ID = re.compile(r"[0-9a-f]{6,32}")
TAGS = ("needs", "competences", "interests", "subject", "times", "format", "experience")


class PairWarning(StrEnum):
    """Why a manual pair needs the curator's confirmation."""

    FORM = "form"
    LOW_SCORE = "low_score"
    CAPACITY = "capacity"
    MENTEE_PAIRED = "mentee_paired"
    REJECTED_BEFORE = "rejected_before"
    UNREACHABLE = "unreachable"


class NoticeKind(StrEnum):
    INTRO = "intro"
    CONTACTS = "contacts"
    SEARCH_ON = "search_on"
    ENDED = "ended"
    PREFERENCES = "preferences"


@dataclass(frozen=True, slots=True)
class Person:
    """A member as the pairing screens and messages show them."""

    membership_id: int
    participant_id: int
    role: str
    form: str | None
    name: str | None
    username: str | None
    telegram_id: int | None
    language: str
    questionnaire_id: str | None
    answers: Mapping[str, Any] = field(default_factory=dict)
    reachable: bool = True  # False: blocked the bot (a 403) or erased their data


@dataclass(frozen=True, slots=True)
class Notice:
    """A message for someone other than the actor."""

    kind: NoticeKind
    key: str  # outbox idempotency key
    to: Person
    about: Person | None = None
    pair_id: int | None = None
    round_id: int | None = None
    candidates: tuple[Person, ...] = ()


@dataclass(slots=True)
class Unmatched:
    person: Person
    reason: str  # matching.UnmatchedReason or "rejected_before"


@dataclass(slots=True)
class MatchRun:
    run_id: str
    proposals: list[Pair]
    unmatched: list[Unmatched]
    mentees: int
    mentors: int
    replaced: int
    unreachable_mentors: list[Person] = field(default_factory=list)


@dataclass(slots=True)
class Card:
    """One pair with both people, for the curator."""

    pair: Pair
    mentee: Person
    mentor: Person
    mentor_load: int
    mentor_capacity: int
    position: int = 1
    total: int = 1


@dataclass(slots=True)
class PairResult:
    pair: Pair
    notices: list[Notice] = field(default_factory=list)


@dataclass(slots=True)
class ManualResult:
    score: Score
    warnings: tuple[PairWarning, ...]
    mentee: Person
    mentor: Person
    pair: Pair | None = None  # None: nothing done, the curator has to confirm the warnings
    notices: list[Notice] = field(default_factory=list)
    capacity_raised_to: int | None = None


@dataclass(slots=True)
class RoundStarted:
    round: PreferenceRound
    notices: list[Notice]
    mentees: int
    mentors: int


@dataclass(slots=True)
class RoundClosed:
    round: PreferenceRound
    choosers: int
    mutual: int


@dataclass(slots=True)
class Shared:
    both: bool
    notices: list[Notice] = field(default_factory=list)


@cache
def default_weights() -> Weights:
    return matching.load_weights()


def new_run_id(now: dt.datetime) -> str:
    return f"{now:%y%m%d%H%M%S}{secrets.token_hex(3)}"
