"""The reports' buttons: "charts" (shared by /summary, which offers it, and /charts, which
draws them), and the organisation picker of /charts, /swot and /top.
`org` names the organisation; the handler re-checks the presser's scope."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from keyboards.common import short


class ChartsAction(StrEnum):
    SHOW = "s"  # org: draw and send the charts of that organisation
    SWOT = "w"  # org: the SWOT analysis of that organisation
    TOP = "t"  # org: the award candidates of that organisation


class ChartsCb(CallbackData, prefix="ch"):
    a: ChartsAction
    org: int


class ChartsPageCb(CallbackData, prefix="chp"):
    """A page of the organisation picker for the report `a`."""

    a: ChartsAction
    p: int  # page, from 0


def charts_button(text: str, organisation_id: int) -> dict[str, str]:
    """One inline button (Bot API JSON) that asks for the organisation's charts."""
    data = ChartsCb(a=ChartsAction.SHOW, org=organisation_id).pack()
    return {"text": text, "callback_data": data}


def picker(
    action: ChartsAction, orgs: Sequence[tuple[int, str]], page: int, pages: int,
    back: str, forward: str,
) -> InlineKeyboardMarkup:
    """One button per organisation, then the pages' arrows."""
    builder = InlineKeyboardBuilder()
    for org_id, name in orgs:
        builder.button(text=short(name), callback_data=ChartsCb(a=action, org=org_id))
    arrows = []
    if page > 0:
        builder.button(text=back, callback_data=ChartsPageCb(a=action, p=page - 1))
        arrows.append(1)
    if page + 1 < pages:
        builder.button(text=forward, callback_data=ChartsPageCb(a=action, p=page + 1))
        arrows.append(1)
    builder.adjust(*([1] * len(orgs)), len(arrows) or 1)
    return builder.as_markup()
