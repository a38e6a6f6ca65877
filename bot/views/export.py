"""Texts of /export: the sheet list, the organisation's name for captions, file names."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence

from bot.i18n import Translator
from bot.services.reports.export import Sheet


def sheet_list(t: Translator, sheets: Sequence[Sheet]) -> str:
    names = "\n".join(
        t("export.sheet_line", name=s.name, title=html.escape(t(f"export.sheet.{s.name}")))
        for s in sheets
    )
    return t("export.bad_sheet", names=names)


def org_label(t: Translator, names: Sequence[str] | None) -> str:
    """Who the export is of, escaped for HTML: an organisation's name or "all"."""
    if names is None:
        return t("export.all_orgs_name")
    return html.escape(", ".join(names))


def file_name(org_ids: Sequence[int] | None, sheet: str | None, day: dt.date) -> str:
    """ASCII only: some clients mangle other file names."""
    who = "all" if org_ids is None else "org" + "-".join(map(str, org_ids))
    if sheet is None:
        return f"nastavnik-{who}-{day.isoformat()}.xlsx"
    return f"nastavnik-{who}-{sheet}-{day.isoformat()}.csv"


def caption(
    t: Translator, org: str, day: dt.date, sheet: str | None = None
) -> str:
    date = day.strftime("%d.%m.%Y")
    if sheet is None:
        return t("export.caption", org=org, date=date)
    title = html.escape(t(f"export.sheet.{sheet}"))
    return t("export.caption_csv", title=title, org=org, date=date)
