"""Meetings of pairs and groups (issue 8): proposing, answering, moving, cancelling,
typed and picked times in the organisation's timezone, and calendar files.

Hook points for other features: `pair_members(session, pair_id)` (who a pair is, with the
organisation's timezone), `meeting_party(session, meeting)` (who a meeting is for, a group
included), `next_kind`. Status semantics: proposed -> confirmed (both agreed) -> held /
not_held (set by the journal) or cancelled.
"""

from bot.services.meetings.core import (
    OPEN,
    Event,
    Listing,
    Member,
    Outcome,
    Party,
    Start,
    cancel,
    check_retime,
    choices,
    confirm,
    decline,
    display_name,
    group_pairs,
    list_for,
    meeting_party,
    next_kind,
    next_kinds,
    pair_members,
    propose,
    retime,
    start,
    start_again,
    view,
)
from bot.services.meetings.ics import IcsFile, meeting_ics, meeting_uid
from bot.services.meetings.when import (
    check_when,
    parse_day,
    parse_slot,
    parse_time_on,
    parse_when,
    picker_days,
    slots,
    zone,
)

__all__ = [
    "OPEN", "Event", "IcsFile", "Listing", "Member", "Outcome", "Party", "Start", "cancel",
    "check_retime", "check_when", "choices", "confirm", "decline", "display_name",
    "group_pairs", "list_for", "meeting_ics", "meeting_party", "meeting_uid", "next_kind",
    "next_kinds", "pair_members", "parse_day", "parse_slot", "parse_time_on", "parse_when",
    "picker_days", "propose", "retime", "slots", "start", "start_again", "view", "zone",
]
