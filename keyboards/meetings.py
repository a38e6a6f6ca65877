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
    GROUP = "g"  # id: pair id; a proposal for the mentor's whole group
    KIND = "k"  # id: dialog target; v: the kind's value
    DAY = "y"  # id: dialog target; v: yyyymmdd
    SLOT = "s"  # id: dialog target; v: yyyymmddHHMM
    DAYS = "b"  # id: dialog target; back to the days
    NO_PLACE = "o"  # id: dialog target; propose without a place
    QUIT = "q"  # id: dialog target; leave the dialog
    CONFIRM = "c"  # id: meeting id; v: the version it was shown at
    DECLINE = "d"  # id: meeting id; v: version
    CANCEL = "x"  # id: meeting id; v: version; asks "sure?"
    CANCEL_OK = "X"  # id: meeting id; v: version
    SHOW = "v"  # id: meeting id; its card with its buttons
    PAGE = "l"  # id: page of /meetings


class MeetingCb(CallbackData, prefix="mt"):
    a: MeetingAction
    id: int
    v: str = ""  # an action's small argument (a day, a slot, a kind, a version)
