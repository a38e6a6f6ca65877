"""Buttons of the reports: choosing an organisation for /summary, /kpi and /totals (pages of
organisations), confirming the totals, and the curator's ОВЗ toggle on a person's card.
Ids only (packed data well under 64 bytes). Keyboards are Bot API JSON (the outbox's form);
`markup()` turns one into aiogram's type for a direct reply."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup

from bot.i18n import Translator
from keyboards.charts import charts_button

PAGE_SIZE = 8


class ReportAction(StrEnum):
    SUMMARY = "s"  # org: show that organisation's summary
    KPI = "k"  # org, y: that organisation's KPI table for year y
    TOTALS = "t"  # org, y: start the totals dialog for that organisation and year
    PAGE = "p"  # v: which report the picker is for (s/k/t); p: the page
    SAVE = "v"  # org, y: save the totals typed in the dialog
    CANCEL = "x"  # leave the totals dialog
    OVZ = "o"  # id: the membership; v: "1" mark as ОВЗ, "0" unmark (a repeat changes nothing)


class ReportCb(CallbackData, prefix="rp"):
    a: ReportAction
    org: int = 0
    y: int = 0
    p: int = 0
    id: int = 0
    v: str = ""


def _button(text: str, data: ReportCb) -> dict[str, str]:
    return {"text": text, "callback_data": data.pack()}


def markup(keyboard: dict[str, Any] | None) -> InlineKeyboardMarkup | None:
    return InlineKeyboardMarkup.model_validate(keyboard) if keyboard is not None else None


def picker(
    t: Translator, report: ReportAction, orgs: Sequence[tuple[int, str]], page: int, year: int
) -> dict[str, Any]:
    """One page of organisations; each button opens `report` for it."""
    pages = max(1, -(-len(orgs) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    rows: list[list[dict[str, str]]] = [
        [_button(name[:60], ReportCb(a=report, org=org_id, y=year))]
        for org_id, name in orgs[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    ]
    nav: list[dict[str, str]] = []
    if page > 0:
        nav.append(_button("◀️", ReportCb(a=ReportAction.PAGE, v=report.value, p=page - 1,
                                          y=year)))
    if page < pages - 1:
        nav.append(_button("▶️", ReportCb(a=ReportAction.PAGE, v=report.value, p=page + 1,
                                          y=year)))
    if nav:
        rows.append(nav)
    return {"inline_keyboard": rows}


def summary_buttons(t: Translator, organisation_id: int, year: int) -> dict[str, Any]:
    """Under a summary: the charts (handled by the charts feature) and the KPI table."""
    return {"inline_keyboard": [
        [charts_button(t("reports.charts_button"), organisation_id)],
        [_button(t("reports.kpi_button"), ReportCb(a=ReportAction.KPI, org=organisation_id,
                                                   y=year))],
    ]}


def confirm_totals(t: Translator, organisation_id: int, year: int) -> dict[str, Any]:
    return {"inline_keyboard": [[
        _button(t("reports.totals_save"), ReportCb(a=ReportAction.SAVE, org=organisation_id,
                                                   y=year)),
        _button(t("reports.totals_cancel"), ReportCb(a=ReportAction.CANCEL)),
    ]]}


def ovz_button(t: Translator, membership_id: int, marked: bool) -> tuple[str, ReportCb]:
    """For the curator's card (bot/views/curator.py): the toggle as (text, data); it names
    the mark it sets, so a repeated press changes nothing."""
    key = "reports.ovz_unset_button" if marked else "reports.ovz_set_button"
    return t(key), ReportCb(a=ReportAction.OVZ, id=membership_id, v="0" if marked else "1")
