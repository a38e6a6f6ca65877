"""The /export organisation picker. `org` is the organisation (0: all of them, a
coordinator's), `csv` the sheet for a CSV export ("" for the workbook); the handler re-checks
the presser's scope on every press."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

ALL = 0
PICKER_LIMIT = 20  # buttons; more organisations: `/export N`


class ExportAction(StrEnum):
    ORG = "o"  # build the export of `org`


class ExportCb(CallbackData, prefix="ex"):
    a: ExportAction
    org: int
    csv: str = ""


def picker(
    orgs: list[tuple[int, str]], *, all_label: str | None, sheet: str = ""
) -> InlineKeyboardMarkup:
    rows = [
        [InlineKeyboardButton(
            text=name, callback_data=ExportCb(a=ExportAction.ORG, org=org_id, csv=sheet).pack()
        )]
        for org_id, name in orgs[:PICKER_LIMIT]
    ]
    if all_label is not None:
        rows.append([InlineKeyboardButton(
            text=all_label, callback_data=ExportCb(a=ExportAction.ORG, org=ALL, csv=sheet).pack()
        )])
    return InlineKeyboardMarkup(inline_keyboard=rows)
