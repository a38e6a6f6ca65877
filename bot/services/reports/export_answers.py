"""The export's answer sheets: polls and surveys, the entry-vs-exit self-assessment and the
KPIs (bot/services/reports/export.py lists them)."""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator, Sequence
from functools import cache
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.polls import POLLS_DIR
from bot.services.questionnaires import DATA_DIR, Questionnaire, parse
from bot.services.reports.export_base import (
    ASSESSMENT_ID,
    CHUNK,
    Page,
    Query,
    Row,
    Scope,
    count_rows,
    fetch,
    keyset,
    pipelined,
    present,
)
from db.models import (
    Answer,
    Membership,
    Organisation,
    Participant,
    QuestionnaireResponse,
    ResponseStatus,
    SurveyResponse,
)


# -- polls and the self-assessment ---------------------------------------------------------------
def _member_of(stmt: Query, membership_id: Any, orgs: Sequence[int]) -> Query:
    return (
        stmt.join(Membership, Membership.id == membership_id)
        .join(Participant, Participant.id == Membership.participant_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.organisation_id.in_(orgs), present(Membership, Participant))
    )


def _polls(orgs: Sequence[int]) -> Query:
    stmt = select(
        SurveyResponse.id, Organisation.timezone, Organisation.name, SurveyResponse.survey_id,
        SurveyResponse.milestone, SurveyResponse.pair_id, Membership.id, Participant.full_name,
        Membership.role, SurveyResponse.sent_at, SurveyResponse.submitted_at,
        SurveyResponse.closed_at.is_not(None), SurveyResponse.satisfaction,
        SurveyResponse.answers,
    ).select_from(SurveyResponse)
    return _member_of(stmt, SurveyResponse.membership_id, orgs)


ANSWERS_KEPT = 50_000


def answers_text(answers: dict[str, Any] | str | None) -> str:
    """A poll's kept answers (nothing personal: /forget leaves only these) as one cell."""
    if isinstance(answers, str):  # the raw JSON
        answers = json.loads(answers)
    if not isinstance(answers, dict):
        return ""
    parts = []
    for key, value in (answers or {}).items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)


async def poll_rows(session: AsyncSession, scope: Scope) -> AsyncIterator[list[Row]]:
    shown: dict[str, str] = {}  # raw JSON -> the cell: a poll's answers take few shapes

    def text(raw: Any) -> str:
        if not isinstance(raw, str):
            return answers_text(raw)
        found = shown.get(raw)
        if found is None:
            if len(shown) >= ANSWERS_KEPT:
                shown.clear()
            found = shown[raw] = answers_text(raw)
        return found

    async for chunk in keyset(session, _polls(scope.orgs), SurveyResponse.id):
        yield [(*row[:-1], text(row[-1])) for row in chunk]


async def poll_count(session: AsyncSession, scope: Scope) -> int:
    return await count_rows(session, _polls(scope.orgs))


def _assessed(orgs: Sequence[int]) -> Query:
    """Memberships with a finished entry or exit self-assessment."""
    stmt = select(Membership.id).select_from(Membership).where(
        select(QuestionnaireResponse.id).where(
            QuestionnaireResponse.membership_id == Membership.id,
            QuestionnaireResponse.questionnaire_id == ASSESSMENT_ID,
            QuestionnaireResponse.status == ResponseStatus.DONE,
        ).exists()
    )
    return (
        stmt.join(Participant, Participant.id == Membership.participant_id)
        .where(Membership.organisation_id.in_(orgs), present(Membership, Participant))
    )


def _score(raw: Any) -> int | float | None:
    """A self-assessment answer (raw JSON text on SQLite) as a number, else None."""
    if isinstance(raw, str):
        if raw.isdigit():  # the usual 1-10
            return int(raw)
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    return raw


@cache
def assessment() -> Questionnaire:
    """The self-assessment questionnaire alone (libyaml when there: the worker starts fast)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    path = DATA_DIR / f"{ASSESSMENT_ID}.yaml"
    return parse(yaml.load(path.read_text("utf-8"), Loader=loader), path.name)


@cache
def poll_titles() -> dict[str, dict[str, str]]:
    """Each poll's title by language, read from the poll files."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    titles = {}
    for path in sorted(POLLS_DIR.glob("*.yaml")):
        raw = yaml.load(path.read_text("utf-8"), Loader=loader)
        titles[str(raw["id"])] = dict(raw.get("title") or {})
    return titles


def dimensions() -> list[str]:
    """The self-assessment's dimensions (question ids), in the questionnaire's order."""
    return [q.id for q in assessment().questions]


async def assessment_rows(session: AsyncSession, scope: Scope) -> AsyncIterator[list[Row]]:
    """One row per person: entry, exit and the change for each dimension."""
    order = {dimension: i for i, dimension in enumerate(dimensions())}
    width = 3 * len(order)
    people = _assessed(scope.orgs).add_columns(
        Organisation.timezone, Organisation.name, Membership.id, Participant.full_name,
        Membership.role,
    ).join(Organisation, Organisation.id == Membership.organisation_id).order_by(
        Membership.id
    ).limit(CHUNK)

    async def load(last: Any) -> Page:
        page = await fetch(session, people if last is None else people.where(
            Membership.id > last))
        if not page:
            return None, [], False
        table = {row[3]: [*row[1:], *([None] * width)] for row in page}
        found = await fetch(session, (
            select(QuestionnaireResponse.membership_id, QuestionnaireResponse.stage,
                   Answer.question_id, Answer.value)
            .join(Answer, Answer.response_id == QuestionnaireResponse.id)
            .where(
                QuestionnaireResponse.membership_id.in_(list(table)),
                QuestionnaireResponse.questionnaire_id == ASSESSMENT_ID,
                QuestionnaireResponse.status == ResponseStatus.DONE,
                QuestionnaireResponse.stage.in_(("entry", "exit")),
            )
        ))
        for member, stage, dimension, value in found:
            at = order.get(dimension)
            score = _score(value)
            if at is None or score is None:
                continue
            table[member][5 + 3 * at + (0 if stage == "entry" else 1)] = score
        for row in table.values():
            for at in range(5, 5 + width, 3):
                if row[at] is not None and row[at + 1] is not None:
                    row[at + 2] = row[at + 1] - row[at]
        return page[-1][0], list(table.values()), len(page) == CHUNK

    async for chunk in pipelined(load):
        yield chunk


async def assessment_count(session: AsyncSession, scope: Scope) -> int:
    return await count_rows(session, _assessed(scope.orgs))


# -- KPIs (bot.services.reports.kpi, when present) ---------------------------------------------
def kpi_module() -> Any:
    try:
        return importlib.import_module("bot.services.reports.kpi")
    except ImportError:
        return None


async def kpi_rows(session: AsyncSession, scope: Scope) -> AsyncIterator[list[Row]]:
    module = kpi_module()
    for org in scope.orgs:
        organisation = await session.get(Organisation, org)
        if organisation is None:
            continue
        found = await module.kpis(session, org, scope.now.year, scope.now)
        yield [
            (organisation.timezone, organisation.name, k.code, k.numerator, k.denominator,
             k.value_pct, k.target_pct, k.met)
            for k in found
        ]


async def kpi_count(session: AsyncSession, scope: Scope) -> int:
    return len(scope.orgs) * 8  # about eight indicators each: the progress is an estimate
