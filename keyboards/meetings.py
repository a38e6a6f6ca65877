"""Callback data for meetings and the journal. Ids only: packed data stays under 64 bytes.

Other features put meeting buttons on their messages through these factories (e.g. the
introduction's "propose a meeting", the journal's "reschedule"); the meetings router
handles them and re-checks on every press that the presser belongs to the pair.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class MeetingAction(StrEnum):
    """What a meeting button does; short values keep the packed data small."""

    NEW = "n"  # id: pair id; starts a proposal (the kind defaults to the next in sequence)
    RESCHEDULE = "r"  # id: meeting id; propose another time for it


class MeetingCb(CallbackData, prefix="mt"):
    a: MeetingAction
    id: int
    v: str = ""  # an action's small argument (a day offset, a slot, a kind letter)
