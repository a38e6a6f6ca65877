"""Coordinator and curator-access buttons: typed callback data, ids only (under 64 bytes)."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from keyboards.common import short


class OrgsPageCb(CallbackData, prefix="og"):
    page: int


class OrgInviteCb(CallbackData, prefix="oi"):
    o: int  # organisation id


class InviteRevokeCb(CallbackData, prefix="ir"):
    i: int  # invite id


class TermsAnswer(StrEnum):
    ACCEPT = "a"
    DECLINE = "d"


class CuratorTermsCb(CallbackData, prefix="ct"):
    m: int  # the curator's membership
    a: TermsAnswer


class Verdict(StrEnum):
    CONFIRM = "y"
    REJECT = "n"


class CuratorConfirmCb(CallbackData, prefix="cc"):
    m: int
    v: Verdict


class NewProgOrgCb(CallbackData, prefix="npo"):
    o: int


class DatesAnswer(StrEnum):
    KEEP = "k"
    CHANGE = "c"


class NewProgDatesCb(CallbackData, prefix="npd"):
    a: DatesAnswer


def two(first: tuple[str, CallbackData], second: tuple[str, CallbackData]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for text, data in (first, second):
        builder.button(text=short(text), callback_data=data)
    builder.adjust(2)
    return builder.as_markup()


def orgs_page(
    org_buttons: list[tuple[str, int]], page: int, pages: int, back: str, forward: str
) -> InlineKeyboardMarkup | None:
    builder = InlineKeyboardBuilder()
    for text, org_id in org_buttons:
        builder.button(text=short(text), callback_data=OrgInviteCb(o=org_id))
    nav = []
    if page > 0:
        nav.append((back, OrgsPageCb(page=page - 1)))
    if page + 1 < pages:
        nav.append((forward, OrgsPageCb(page=page + 1)))
    for text, data in nav:
        builder.button(text=text, callback_data=data)
    if not org_buttons and not nav:
        return None
    builder.adjust(*([1] * len(org_buttons)), *([len(nav)] if nav else []))
    return builder.as_markup()
