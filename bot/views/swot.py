"""Texts of the monitoring and recognition reports: /swot (the SWOT analysis) and /top (the
award candidates). Long texts are split into messages by `Ctx.send`."""

from __future__ import annotations

from html import escape

from bot.i18n import Translator
from bot.services.reports.swot import Quadrant, Swot
from bot.services.reports.top import Candidate, Mean, Top
from db.models import Role

QUOTE_LIMIT = 400  # characters of one quote


def _clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def swot_text(t: Translator, organisation: str, swot: Swot) -> str:
    org = escape(organisation)
    if swot.empty:
        return t("swot.empty", org=org)
    process = sum(swot.respondents.values())
    lines = [
        t("swot.title", org=org),
        t("swot.base", process=t.plural("swot.process", process),
          mentees=swot.respondents.get(Role.MENTEE, 0),
          mentors=swot.respondents.get(Role.MENTOR, 0), curators=swot.curators),
    ]
    for quadrant in Quadrant:
        lines.append("")
        lines.append(t(f"swot.quadrant.{quadrant.value}"))
        found = swot.lines.get(quadrant, [])
        if not found:
            lines.append(t("swot.nothing"))
        for key, n in found:
            lines.append(t("swot.line", text=t(f"swot.item.{key}"), n=n))
        quotes = swot.quotes.get(quadrant, [])
        if quotes:
            lines.append(t("swot.quotes"))
            for quote in quotes:
                role = t(f"swot.role.{quote.role}") if t.has(f"swot.role.{quote.role}") else ""
                lines.append(t("swot.quote", text=escape(_clip(quote.text)), role=role))
    return "\n".join(lines)


def _number(t: Translator, value: float) -> str:
    """One decimal at most, with the language's decimal mark."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if t.language == "ru" else text


def _mean(t: Translator, mean: Mean) -> str:
    return _number(t, mean.value) if mean.count else t("top.dash")


def _points(t: Translator, value: float) -> str:
    if round(value, 1).is_integer():
        return t.plural("top.points", int(round(value, 1)))
    return t("top.points_other", n=_number(t, value))


def _name(t: Translator, candidate: Candidate, index: int) -> str:
    name = candidate.names[index] if index < len(candidate.names) else ""
    return escape(name) if name else t("top.someone", id=candidate.people[index])


def top_text(t: Translator, organisation: str, top: Top) -> str:
    lines = [t("top.title", org=escape(organisation)), t("top.formula"), t("top.mentors")]
    if not top.mentors:
        lines.append(t("top.none"))
    for rank, mentor in enumerate(top.mentors, 1):
        lines.append(t(
            "top.mentor_line", rank=rank, name=_name(t, mentor, 0),
            points=_points(t, mentor.points), completed=mentor.completed,
            meetings=mentor.meetings, satisfaction=_mean(t, mentor.satisfaction),
            rating=_mean(t, mentor.rating),
        ))
    lines.append(t("top.pairs"))
    if not top.pairs:
        lines.append(t("top.none"))
    for rank, pair in enumerate(top.pairs, 1):
        lines.append(t(
            "top.pair_line", rank=rank, id=pair.id, mentor=_name(t, pair, 0),
            mentee=_name(t, pair, 1), points=_points(t, pair.points),
            completed=t("top.completed_yes") if pair.completed else t("top.completed_no"),
            meetings=pair.meetings, satisfaction=_mean(t, pair.satisfaction),
            rating=_mean(t, pair.rating),
        ))
    return "\n".join(lines)
