"""Quarterly reports in words: the mentor's invitation, the curators' "report submitted"
(with the answers and the Accept / Return buttons), the mentor's "accepted" / "returned"
(with the comment), and the pair's reports for /reports. Each notice in its recipient's
language, queued in the outbox (the sender keeps quiet hours and pauses)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator, translator
from bot.render import answer_html, clip
from bot.services import outbox
from bot.services.quarterly import QUESTIONNAIRE_ID, Kind, Notice, PairReport
from bot.services.questionnaires import Catalog
from keyboards import quarterly as kb

CLIPPED = 600  # characters of each free text in the curators' message (4 texts < 4096)


def quarter_name(t: Translator, quarter: str) -> str:
    """"2026Q4" → "IV квартал 2026"."""
    year, _, index = quarter.partition("Q")
    number = int(index) if index.isdigit() and 1 <= int(index) <= 4 else 1
    names = t("quarterly.quarter_numbers").split(",")
    return t("quarterly.quarter", n=names[number - 1], year=year)


def answers_lines(
    t: Translator, catalog: Catalog, answers: Mapping[str, Any], limit: int | None = None
) -> list[str]:
    """One line per answer; `limit` clips the free texts (an outbox message is not split)."""
    questionnaire = catalog.get(QUESTIONNAIRE_ID)
    if questionnaire is None:
        return []
    lines = []
    for question in questionnaire.questions:
        if question.id not in answers:
            continue
        value = answers[question.id]
        if limit is not None and isinstance(value, str):
            value = clip(value, limit)
        lines.append(f"<b>{escape(t.pick(question.label))}:</b> {answer_html(t, question, value)}")
    return lines


def render(notice: Notice, catalog: Catalog | None = None,
           answers: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any] | None]:
    t = translator(notice.language)
    quarter = quarter_name(t, notice.quarter)
    if notice.kind == Kind.INVITE:
        partner = escape(clip(notice.partner, 60)) if notice.partner else t("journal.someone")
        return (t("quarterly.invite", quarter=quarter, pair=notice.pair_id, partner=partner),
                kb.open_report(t, notice.report_id))
    if notice.kind == Kind.SUBMITTED:
        lines = [t("quarterly.submitted", quarter=quarter, pair=notice.pair_id)]
        if catalog is not None and answers:
            lines += answers_lines(t, catalog, answers, CLIPPED)
        lines.append(t("quarterly.submitted_more", pair=notice.pair_id))
        return "\n".join(lines), kb.review(t, notice.report_id, notice.version)
    if notice.kind == Kind.ACCEPTED:
        return t("quarterly.accepted", quarter=quarter, pair=notice.pair_id), None
    return (
        t("quarterly.returned", quarter=quarter, pair=notice.pair_id,
          comment=escape(notice.comment)),
        kb.open_report(t, notice.report_id, notice.version, edit=True),
    )


async def queue(
    session: AsyncSession, notices: Iterable[Notice], now: dt.datetime,
    catalog: Catalog | None = None, answers: Mapping[str, Any] | None = None,
) -> int:
    """Put the notices in the outbox; returns how many were new (a repeated key is not)."""
    queued = 0
    for notice in notices:
        text, markup = render(notice, catalog, answers)
        row = await outbox.enqueue(
            session, chat_id=notice.chat_id, text=text, key=notice.key, now=now,
            reply_markup=markup, participant_id=notice.participant_id,
            organisation_id=notice.organisation_id, kind=notice.kind.value,
        )
        queued += row is not None
    return queued


def pair_text(t: Translator, catalog: Catalog, reports: Sequence[PairReport]) -> str:
    """/reports N: the pair's quarterly reports, newest last, with their status."""
    lines = [t("quarterly.reports_head")]
    for item in reports:
        report = item.report
        lines.append("")
        lines.append(t("quarterly.reports_line", quarter=quarter_name(t, report.quarter),
                       status=t(f"quarterly.status_{report.status}")))
        lines += answers_lines(t, catalog, item.answers)
        if report.comment:
            lines.append(t("quarterly.reports_comment", comment=escape(report.comment)))
    return "\n".join(lines)
