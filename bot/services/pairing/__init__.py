"""Forming pairs (programme stage 5): profiles from answers, match runs, the curator's
decisions, manual pairs, preference rounds after a group meeting, sharing contacts.

The scoring and the assignment are in :mod:`bot.services.matching`; this package feeds it
from the database and keeps the pairs' states. Every state change is a conditional UPDATE
(see db/queries/pairs.py), adds a PairEvent and an audit record (ids only).

Messages to other people are returned as :class:`Notice` values (who, what, an
idempotency key); the handler turns them into words and buttons and puts them in the
outbox within the same transaction.
"""

from __future__ import annotations

from bot.services.pairing.contacts import share_contact
from bot.services.pairing.manual import active_card, manual_pair, unpair
from bot.services.pairing.model import (
    CONTACT_SHARED,
    MAX_CANDIDATES,
    MAX_CAPACITY,
    MAX_PICKS,
    PAIRABLE,
    RUN_ID,
    TAGS,
    Card,
    ManualResult,
    MatchRun,
    Notice,
    NoticeKind,
    PairResult,
    PairWarning,
    Person,
    RoundClosed,
    RoundStarted,
    Shared,
    Unmatched,
    default_weights,
    new_run_id,
)
from bot.services.pairing.profiles import (
    free_text,
    mentee_profile,
    mentor_profile,
    people_by_id,
    people_of,
    questionnaire_of,
    reasons_json,
    reasons_of,
    tagged,
)
from bot.services.pairing.proposals import (
    approve,
    pair_card,
    proposal_card,
    proposal_position,
    reject,
)
from bot.services.pairing.rounds import close_round, picks, start_round, toggle_pick
from bot.services.pairing.runs import run_match, tell_unmatched

__all__ = [
    "CONTACT_SHARED",
    "Card",
    "MAX_CANDIDATES",
    "MAX_CAPACITY",
    "MAX_PICKS",
    "ManualResult",
    "MatchRun",
    "Notice",
    "NoticeKind",
    "PAIRABLE",
    "PairResult",
    "PairWarning",
    "Person",
    "RUN_ID",
    "RoundClosed",
    "RoundStarted",
    "Shared",
    "TAGS",
    "Unmatched",
    "active_card",
    "approve",
    "close_round",
    "default_weights",
    "free_text",
    "manual_pair",
    "mentee_profile",
    "mentor_profile",
    "new_run_id",
    "pair_card",
    "people_by_id",
    "people_of",
    "picks",
    "proposal_card",
    "proposal_position",
    "questionnaire_of",
    "reasons_json",
    "reasons_of",
    "reject",
    "run_match",
    "share_contact",
    "start_round",
    "tagged",
    "tell_unmatched",
    "toggle_pick",
    "unpair",
]
