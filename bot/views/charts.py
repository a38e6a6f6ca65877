"""/charts: the charts' specifications in the reader's language (the drawing code gets plain
strings), their captions, and the organisation picker shared by /charts, /swot and /top."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from aiogram.types import InlineKeyboardMarkup

from bot.chart_worker import BarChart, Series
from bot.i18n import Translator
from bot.services.reports.charts import FUNNEL, ROLES, SCALE, WEEKS, ChartsData
from keyboards import charts as kb
from keyboards.charts import ChartsAction

PAGE_SIZE = 8
KINDS = ("funnel", "satisfaction", "assessment", "weeks")


def specs(t: Translator, data: ChartsData) -> tuple[list[BarChart], list[str]]:
    """The charts that have data, and the kinds left out for lack of it."""
    charts: list[BarChart] = []
    missing: list[str] = []
    if data.has_funnel:
        charts.append(BarChart(
            t("charts.title.funnel"), [t(f"charts.stage.{s}") for s in FUNNEL],
            [Series(t("charts.series.pairs"), [n for _, n in data.funnel])],
            t("charts.axis.pairs"), horizontal=True,
            note=t("charts.note.funnel", n=data.ended),
        ))
    else:
        missing.append("funnel")
    if data.has_satisfaction:
        charts.append(BarChart(
            t("charts.title.satisfaction"), [str(v) for v in SCALE],
            [Series(t(f"charts.series.{role}"), data.satisfaction.get(role, [0] * len(SCALE)))
             for role in ROLES],
            t("charts.axis.answers"), t("charts.axis.score"), highlight_from=data.threshold - 1,
            note=t("charts.note.satisfaction", threshold=data.threshold),
        ))
    else:
        missing.append("satisfaction")
    if data.has_assessment:
        people = max(d.people for d in data.assessment)
        charts.append(BarChart(
            t("charts.title.assessment"), [t.pick(d.label) for d in data.assessment],
            [Series(t("charts.series.entry"), [round(d.entry, 1) for d in data.assessment]),
             Series(t("charts.series.exit"), [round(d.exit, 1) for d in data.assessment])],
            t("charts.axis.mean"), horizontal=True, value_max=10, decimals=1,
            note=t("charts.note.assessment", n=people),
        ))
    else:
        missing.append("assessment")
    if data.has_weeks:
        charts.append(BarChart(
            t("charts.title.weeks"), [d.strftime("%d.%m") for d, _ in data.weeks],
            [Series(t("charts.series.meetings"), [n for _, n in data.weeks])],
            t("charts.axis.meetings"), t("charts.axis.week"),
            note=t("charts.note.weeks", weeks=len(data.weeks)),
        ))
    else:
        missing.append("weeks")
    return charts, missing


def head(t: Translator, data: ChartsData, missing: Sequence[str]) -> str:
    text = t("charts.head", org=escape(data.organisation))
    if missing:
        what = ", ".join(t(f"charts.short.{kind}") for kind in missing)
        text += "\n" + t("charts.missing", what=what)
    return text


def empty(t: Translator, data: ChartsData) -> str:
    return t("charts.empty", org=escape(data.organisation), weeks=WEEKS)


def pick(
    t: Translator, action: ChartsAction, orgs: Sequence[tuple[int, str]], page: int, pages: int
) -> tuple[str, InlineKeyboardMarkup]:
    text = t("charts.pick") if pages <= 1 else t("charts.pick_page", page=page + 1, pages=pages)
    markup = kb.picker(action, orgs, page, pages, t("charts.back"), t("charts.forward"))
    return text, markup
