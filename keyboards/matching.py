"""Buttons of the pairing step: proposals, manual pairs, preference picks, contacts.

Callback data carries ids only (membership, pair, round ids and a match run id).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import Translator
from bot.ids import MAX_ID
from keyboards.common import short
from keyboards.meetings import MeetingAction, MeetingCb

PICKED = "✅ "
NOT_PICKED = "▫️ "


class ProposalAction(StrEnum):
    SHOW = "sh"  # the first proposal (from the /match summary)
    NEXT = "nx"
    APPROVE = "ok"
    REJECT = "no"


class ProposalCb(CallbackData, prefix="mpr"):
    """A proposal card's button (or the summary's "show proposals")."""

    a: ProposalAction
    p: int
    r: str = ""  # the proposal's match run: a replaced proposal's buttons stop working


class SearchOnCb(CallbackData, prefix="mso"):
    p: int  # programme
    r: str  # match run id


class ManualCb(CallbackData, prefix="mmp"):
    e: int  # mentee membership
    r: int  # mentor membership
    ok: bool


class UnpairCb(CallbackData, prefix="mup"):
    p: int
    ok: bool


class PickCb(CallbackData, prefix="mpk"):
    """A preference pick; the candidates' ids in a keyboard are also what a toggle redraws."""

    r: int  # preference round
    m: int  # the chooser's membership
    c: int  # the chosen membership; 0 = done


class ShareCb(CallbackData, prefix="msh"):
    p: int


def proposal(t: Translator, pair_id: int, run_id: str, *, more: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=t("matching.approve"),
        callback_data=ProposalCb(a=ProposalAction.APPROVE, p=pair_id, r=run_id),
    )
    builder.button(
        text=t("matching.reject"),
        callback_data=ProposalCb(a=ProposalAction.REJECT, p=pair_id, r=run_id),
    )
    if more:
        builder.button(
            text=t("common.next"), callback_data=ProposalCb(a=ProposalAction.NEXT, p=pair_id)
        )
    builder.adjust(2, 1)
    return builder.as_markup()


def summary(
    t: Translator, programme_id: int, run_id: str, *, proposals: bool, unmatched: bool
) -> InlineKeyboardMarkup | None:
    builder = InlineKeyboardBuilder()
    if proposals:
        builder.button(
            text=t("matching.show_proposals"),
            callback_data=ProposalCb(a=ProposalAction.SHOW, p=0),
        )
    if unmatched:
        builder.button(
            text=t("matching.tell_unmatched"), callback_data=SearchOnCb(p=programme_id, r=run_id)
        )
    builder.adjust(1)
    return builder.as_markup() if proposals or unmatched else None


def manual_confirm(t: Translator, mentee_id: int, mentor_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=t("matching.manual_confirm"),
        callback_data=ManualCb(e=mentee_id, r=mentor_id, ok=True),
    )
    builder.button(
        text=t("common.cancel"), callback_data=ManualCb(e=mentee_id, r=mentor_id, ok=False)
    )
    builder.adjust(1)
    return builder.as_markup()


def unpair_confirm(t: Translator, pair_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=t("matching.unpair_yes"), callback_data=UnpairCb(p=pair_id, ok=True))
    builder.button(text=t("common.cancel"), callback_data=UnpairCb(p=pair_id, ok=False))
    builder.adjust(2)
    return builder.as_markup()


def picks(
    t: Translator,
    round_id: int,
    chooser_id: int,
    candidates: Sequence[tuple[int, str]],
    picked: Collection[int],
) -> InlineKeyboardMarkup:
    """A toggle per candidate (membership id, name) and "Done"."""
    builder = InlineKeyboardBuilder()
    for membership_id, name in candidates:
        mark = PICKED if membership_id in picked else NOT_PICKED
        builder.button(
            text=mark + short(name, 40),
            callback_data=PickCb(r=round_id, m=chooser_id, c=membership_id),
        )
    builder.button(text=t("common.done"), callback_data=PickCb(r=round_id, m=chooser_id, c=0))
    builder.adjust(1)
    return builder.as_markup()


def candidates_of(markup: InlineKeyboardMarkup | None) -> list[int]:
    """The memberships a pick keyboard offers, read from its callback data, in order."""
    out: list[int] = []
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            data = button.callback_data or ""
            if data.startswith(PickCb.__prefix__ + PickCb.__separator__):
                chosen = PickCb.unpack(data).c
                if chosen:
                    out.append(chosen)
    return out


def share(t: Translator, pair_id: int, *, meeting: bool = False) -> InlineKeyboardMarkup:
    """"Share my contact", and on the introduction also "propose a meeting"."""
    builder = InlineKeyboardBuilder()
    builder.button(text=t("matching.share_button"), callback_data=ShareCb(p=pair_id))
    if meeting:
        builder.button(text=t("meetings.propose_button"),
                       callback_data=MeetingCb(a=MeetingAction.NEW, id=pair_id))
    builder.adjust(1)
    return builder.as_markup()


def propose_meeting(t: Translator, pair_id: int) -> InlineKeyboardMarkup:
    """What stays under the introduction once the contact is shared."""
    builder = InlineKeyboardBuilder()
    builder.button(text=t("meetings.propose_button"),
                   callback_data=MeetingCb(a=MeetingAction.NEW, id=pair_id))
    return builder.as_markup()


def sane(data: CallbackData) -> bool:
    """Every number in the data could be an id (0 where a field means "none"): forged or
    mangled data never reaches a query, where a huge number would overflow the driver."""
    return all(
        0 <= value <= MAX_ID
        for value in data.model_dump().values()
        if isinstance(value, int) and not isinstance(value, bool)
    )
