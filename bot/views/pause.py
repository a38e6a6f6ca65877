"""/pause and /paused in words."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape
from zoneinfo import ZoneInfo

from bot.i18n import Translator
from bot.render import clip
from bot.services.pause import PausedRow


def local_date(moment: dt.datetime | None, tz: str) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y")


def reason_word(t: Translator, reason: str | None) -> str:
    key = f"pause.reason.{reason}"
    return t(key) if reason and t.has(key) else "—"


def paused_list(t: Translator, rows: Sequence[PausedRow], tz: str) -> str:
    if not rows:
        return t("pause.list_empty")
    lines = [t("pause.list_header", n=len(rows))]
    for row in rows:
        roles = ", ".join(t(f"role.{r}") if t.has(f"role.{r}") else r for r in row.roles)
        lines.append(t(
            "pause.list_line", name=escape(clip(row.name, 60)) or t("pause.no_name"),
            roles=roles, date=local_date(row.until, tz), reason=reason_word(t, row.reason),
        ))
    return "\n".join(lines)
