"""/swot and /top on a seeded dataset with hand-computed expected counts and ranking, and
their isolation: a curator of organisation A gets nothing of B, participants get nothing.

The dataset (`seed`), organisation A ("Школа"):
- mentors Пётр (pairs P1 completed with Иван, P2 regular with Мария), Анна (P3 completed with
  Олег), Сергей (P4 intro with Дарья), Вера (a group "g1": P6 with Лев, P7 with Ника, both
  regular), Глеб (P5 completed with Ксения; Глеб and Ксения then use /forget);
- held meetings: P1 4 (and one cancelled), P2 2, P3 5, P4 2, the group 2 (on P6), P5 5;
- final survey satisfaction (submitted): P1 Иван 9, Пётр 10; P3 Олег 7, Анна 8; an unsubmitted
  3 from Мария on P2 does not count;
- final reports' ratings: P1 mentee report 8, curator review 10; P3 mentee report 10,
  curator review 6;
- process questionnaires (done): Иван, Пётр, Мария, Анна, Ксения; Олег's is unfinished;
  the curator Ольга's monitoring questionnaire; two process polls closed unanswered.
Organisation B ("Школа Б") has its own mentor "Наставник Чужак" with a completed pair, many
meetings and its own answers: none of it may show in A's reports.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import translator
from bot.services.privacy import forget
from bot.services.reports import swot as swot_service
from bot.services.reports import top as top_service
from bot.services.reports.swot import Quadrant
from bot.views import swot as texts
from db.models import (
    Answer,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Membership,
    MembershipStatus,
    Pair,
    PairStatus,
    Participant,
    QuestionnaireResponse,
    ResponseStatus,
    Role,
    SurveyResponse,
)
from keyboards.charts import ChartsAction, ChartsCb
from tests.unit.journal_world import NOW, World, db, world  # noqa: F401 - fixtures by name
from tests.unit.test_coordinator_defects import ADMIN, _say, app  # noqa: F401 - the app

T = translator("ru")
_stages = itertools.count(1)


@dataclass
class Seeded:
    a: World
    b: World
    curator_a: Participant
    curator_b: Participant
    pairs: dict[str, Pair] = field(default_factory=dict)
    people: dict[str, Participant] = field(default_factory=dict)
    members: dict[str, Membership] = field(default_factory=dict)


async def _response(
    session: AsyncSession, membership: Membership, questionnaire_id: str,
    answers: dict[str, Any], *, stage: str | None = None, done: bool = True,
) -> QuestionnaireResponse:
    response = QuestionnaireResponse(
        membership_id=membership.id, questionnaire_id=questionnaire_id,
        questionnaire_version=1, stage=stage or f"poll:{next(_stages)}",
        status=ResponseStatus.DONE if done else ResponseStatus.IN_PROGRESS,
        answers=[Answer(question_id=k, value=v, is_personal=isinstance(v, str)
                        and k in ("comment", "strengths", "difficulties", "improvements"))
                 for k, v in answers.items()],
    )
    session.add(response)
    await session.flush()
    return response


async def _held(world: World, pair: Pair, n: int, *, group_key: str | None = None,
                status: MeetingStatus = MeetingStatus.HELD) -> None:
    for i in range(n):
        world.session.add(Meeting(
            pair_id=pair.id, kind=MeetingKind.REGULAR, status=status, group_key=group_key,
            starts_at=NOW - dt.timedelta(days=3 + 7 * i), duration_minutes=60,
        ))
    await world.session.flush()


def _survey(membership: Membership, pair: Pair, value: int, *, submitted: bool = True
            ) -> SurveyResponse:
    role = membership.role
    return SurveyResponse(
        survey_id=f"poll-final-{role}", survey_version=1, membership_id=membership.id,
        pair_id=pair.id, milestone="final", answers={"satisfaction": value},
        satisfaction=value, sent_at=NOW - dt.timedelta(days=2),
        submitted_at=NOW - dt.timedelta(days=1) if submitted else None,
    )


async def _curator(world: World, name: str) -> tuple[Participant, Membership]:
    person, membership = await world.member(name, Role.CURATOR)
    membership.confirmed_at = NOW
    membership.status = MembershipStatus.IN_BASE
    await world.session.flush()
    return person, membership


async def seed(session: AsyncSession) -> Seeded:
    a = await World(session).setup()
    b = await World(session).setup()
    b.org.name = "Школа Б"
    b.mentor.full_name = "Наставник Чужак"
    curator_a, curator_a_m = await _curator(a, "Куратор Ольга")
    curator_b, curator_b_m = await _curator(b, "Куратор Борис")
    s = Seeded(a, b, curator_a, curator_b)
    s.people |= {"Пётр": a.mentor, "Иван": a.mentee, "Олег": a.stranger}
    s.members |= {"Пётр": a.mentor_m, "Иван": a.mentee_m}
    for name, role in (("Анна", Role.MENTOR), ("Сергей", Role.MENTOR), ("Вера", Role.MENTOR),
                       ("Глеб", Role.MENTOR), ("Мария", Role.MENTEE), ("Дарья", Role.MENTEE),
                       ("Лев", Role.MENTEE), ("Ника", Role.MENTEE), ("Ксения", Role.MENTEE)):
        s.people[name], s.members[name] = await a.member(f"{name} А", role)
    # the stranger's membership (World keeps only the participant)
    olegs = [m for m in await _memberships(session, a.stranger.id)]
    s.members["Олег"] = olegs[0]
    m = s.members
    a.pair.status = PairStatus.COMPLETED
    s.pairs["P1"] = a.pair
    s.pairs["P2"] = await a.pair_of(m["Пётр"], m["Мария"], status=PairStatus.REGULAR)
    s.pairs["P3"] = await a.pair_of(m["Анна"], m["Олег"], status=PairStatus.COMPLETED)
    s.pairs["P4"] = await a.pair_of(m["Сергей"], m["Дарья"], status=PairStatus.INTRO)
    s.pairs["P5"] = await a.pair_of(m["Глеб"], m["Ксения"], status=PairStatus.COMPLETED)
    s.pairs["P6"] = await a.pair_of(m["Вера"], m["Лев"], "g1", status=PairStatus.REGULAR)
    s.pairs["P7"] = await a.pair_of(m["Вера"], m["Ника"], "g1", status=PairStatus.REGULAR)
    p = s.pairs
    await _held(a, p["P1"], 4)
    await _held(a, p["P1"], 1, status=MeetingStatus.CANCELLED)
    await _held(a, p["P2"], 2)
    await _held(a, p["P3"], 5)
    await _held(a, p["P4"], 2)
    await _held(a, p["P5"], 5)
    await _held(a, p["P6"], 2, group_key="g1")
    session.add_all([
        _survey(m["Иван"], p["P1"], 9), _survey(m["Пётр"], p["P1"], 10),
        _survey(m["Олег"], p["P3"], 7), _survey(m["Анна"], p["P3"], 8),
        _survey(m["Мария"], p["P2"], 3, submitted=False),
    ])
    for pair, mentee, report, review in (("P1", "Иван", 8, 10), ("P3", "Олег", 10, 6)):
        await _response(session, m[mentee], "report-mentee",
                        {"satisfaction": report, "achieved": "успехи"},
                        stage=f"final:{p[pair].id}")
        await _response(session, curator_a_m, "review-curator", {"pair_rating": review},
                        stage=f"review:{p[pair].id}")
    # process questionnaires
    process = (
        ("Иван", "as_planned", 9, ["nothing"], "Больше общих встреч"),
        ("Пётр", "sometimes_missed", 6, ["time", "place"], "Нужен кабинет для встреч"),
        ("Мария", "rarely", 3, ["time", "goals"], None),
        ("Анна", "as_planned", 8, ["contact", "time"], None),
        ("Ксения", "as_planned", 10, ["nothing"], "секретный текст Ксении"),
    )
    for name, meetings, support, difficulties, comment in process:
        answers: dict[str, Any] = {"meetings": meetings, "support": support,
                                   "difficulties": difficulties}
        if comment:
            answers["comment"] = comment
        await _response(session, m[name], "poll-process", answers)
    await _response(session, m["Олег"], "poll-process",
                    {"meetings": "rarely", "support": 1}, done=False)
    await _response(session, curator_a_m, "monitoring-curator", {
        "organisation": 9, "pairs_quality": 6, "mentors_ready": 3,
        "strengths": "Сильная команда наставников", "difficulties": "Мало времени у педагогов",
        "improvements": "Обучать наставников заранее",
    }, stage=f"monitor:{a.programme.id}")
    sent = NOW - dt.timedelta(days=20)
    for name, closed, submitted, was_sent in (("Сергей", True, False, True),
                                             ("Дарья", True, False, True),
                                             ("Лев", False, True, True),
                                             ("Ника", True, False, False)):
        session.add(SurveyResponse(
            survey_id="poll-process", survey_version=1, membership_id=m[name].id,
            pair_id=None, milestone=f"process:{name}", answers={},
            sent_at=sent if was_sent else None,
            closed_at=NOW - dt.timedelta(days=6) if closed else None,
            submitted_at=NOW - dt.timedelta(days=10) if submitted else None,
        ))
    # organisation B
    b.pair.status = PairStatus.COMPLETED
    await _held(b, b.pair, 9)
    session.add(_survey(b.mentee_m, b.pair, 10))
    await _response(session, b.mentee_m, "poll-process", {
        "meetings": "rarely", "support": 2, "difficulties": ["place"],
        "comment": "Текст из школы Б"})
    await _response(session, curator_b_m, "monitoring-curator", {
        "organisation": 2, "pairs_quality": 2, "mentors_ready": 2,
        "strengths": "Сильные стороны Б", "difficulties": "Трудности Б"},
        stage=f"monitor:{b.programme.id}")
    await session.flush()
    # Глеб and Ксения withdraw consent
    for name in ("Глеб", "Ксения"):
        await forget(session, s.people[name], now=NOW, version=1)
    await session.flush()
    return s


async def _memberships(session: AsyncSession, participant_id: int) -> list[Membership]:
    from sqlalchemy import select

    stmt = select(Membership).where(Membership.participant_id == participant_id)
    return list((await session.execute(stmt)).scalars())


# -- SWOT -------------------------------------------------------------------------------------
async def test_swot_counts_by_hand(world: World) -> None:
    s = await seed(world.session)
    found = await swot_service.swot(world.session, s.a.org.id)
    # five finished process questionnaires: mentees Иван, Мария, Ксения; mentors Пётр, Анна
    # (Олег's is unfinished); Ксения's withdrawal keeps her choices, not her text
    assert found.respondents == {"mentee": 3, "mentor": 2}
    assert found.curators == 1
    assert found.lines[Quadrant.STRENGTHS] == [
        ("meetings_as_planned", 3),  # Иван, Анна, Ксения
        ("support_high", 3),  # 9 (Иван), 8 (Анна), 10 (Ксения)
        ("nothing_hinders", 2),  # Иван, Ксения
        ("organisation_high", 1),  # the curator's 9
    ]
    assert found.lines[Quadrant.WEAKNESSES] == [
        ("meetings_rarely", 1),  # Мария
        ("support_low", 1),  # Мария's 3
        ("unclear_goals", 1),  # Мария
        ("hard_to_agree", 1),  # Анна
        ("mentors_low", 1),  # the curator's 3
    ]
    assert found.lines[Quadrant.OPPORTUNITIES] == [
        ("meetings_sometimes", 1),  # Пётр
        ("support_middle", 1),  # Пётр's 6
        ("pairs_middle", 1),  # the curator's 6
    ]
    assert found.lines[Quadrant.THREATS] == [
        ("no_time", 3),  # Пётр, Мария, Анна
        ("unanswered", 2),  # Сергей, Дарья (Лев answered; Ника's was never sent)
        ("no_place", 1),  # Пётр
    ]
    quotes = {q: [(x.role, x.text) for x in v] for q, v in found.quotes.items()}
    assert quotes[Quadrant.STRENGTHS] == [("curator", "Сильная команда наставников")]
    assert quotes[Quadrant.WEAKNESSES] == [("curator", "Мало времени у педагогов")]
    assert sorted(quotes[Quadrant.OPPORTUNITIES]) == sorted([
        ("mentee", "Больше общих встреч"), ("mentor", "Нужен кабинет для встреч"),
        ("curator", "Обучать наставников заранее")])
    text = texts.swot_text(T, s.a.org.name, found)
    assert "• Не хватает времени — 3" in text
    assert "«Нужен кабинет для встреч» — наставник" in text
    assert "5 ответов (наставляемых — 3, наставников — 2); анкета куратора: 1" in text
    for other in ("Ксении", "школы Б", "Школа Б", "Пётр", "Анна А"):  # no names, nothing of B
        assert other not in text


async def test_swot_of_b_and_empty(world: World) -> None:
    s = await seed(world.session)
    found = await swot_service.swot(world.session, s.b.org.id)
    assert found.respondents == {"mentee": 1}
    assert found.lines[Quadrant.THREATS] == [("no_place", 1)]
    assert found.lines[Quadrant.WEAKNESSES] == [
        ("meetings_rarely", 1), ("support_low", 1), ("organisation_low", 1), ("pairs_low", 1),
        ("mentors_low", 1)]
    empty = await swot_service.swot(world.session, s.b.org.id + 100)
    assert empty.empty
    assert "нет ответов" in texts.swot_text(T, "X", empty)


# -- top --------------------------------------------------------------------------------------
async def test_top_ranking_by_hand(world: World) -> None:
    s = await seed(world.session)
    found = await top_service.top(world.session, s.a.org.id)
    # points = 10 C + M + 3 S + 3 R
    # Пётр: C 1 (P1), M 4 + 2 = 6, S 9 (Иван on P1), R (8 + 10) / 2 = 9 -> 10+6+27+27 = 70
    # Анна: C 1, M 5, S 7, R (10 + 6) / 2 = 8 -> 10+5+21+24 = 60
    # Сергей: M 2 -> 2; Вера: the group's 2 meetings once -> 2 (tie: Сергей's lower id)
    # Глеб withdrew consent: no candidate
    mentors = [(c.names[0], c.points, c.completed, c.meetings) for c in found.mentors]
    assert mentors == [
        ("Наставник Пётр", 70, 1, 6), ("Анна А", 60, 1, 5), ("Сергей А", 2, 0, 2),
        ("Вера А", 2, 0, 2),
    ]
    # P1: C 1, M 4, S (9 + 10) / 2 = 9.5, R 9 -> 10+4+28.5+27 = 69.5
    # P3: C 1, M 5, S (7 + 8) / 2 = 7.5, R 8 -> 10+5+22.5+24 = 61.5
    # P2, P4, P6, P7: M 2 each (the group's meetings count for both its pairs) -> 2 points,
    # in pair id order; P5 has a side who withdrew consent
    p = s.pairs
    pairs = [(c.id, float(c.points)) for c in found.pairs]
    assert pairs == [(p["P1"].id, 69.5), (p["P3"].id, 61.5), (p["P2"].id, 2.0),
                     (p["P4"].id, 2.0), (p["P6"].id, 2.0), (p["P7"].id, 2.0)]
    text = texts.top_text(T, s.a.org.name, found)
    assert "1. Наставник Пётр — 70 баллов" in text
    assert "циклов: 1, встреч: 6, удовлетворённость наставляемых: 9, оценка отчётов: 9" in text
    assert f"1. Пара #{p['P1'].id}: Наставник Пётр и Ученик Иван — 69,5 балла" in text
    assert "удовлетворённость сторон: 9,5, оценка отчётов: 9" in text
    assert "удовлетворённость наставляемых: —" in text  # Сергей: no answers
    assert "Чужак" not in text and "Глеб" not in text and "Ксения" not in text


async def test_top_limit_and_english(world: World) -> None:
    s = await seed(world.session)
    found = await top_service.top(world.session, s.a.org.id, limit=2)
    assert len(found.mentors) == 2 and len(found.pairs) == 2
    text = texts.top_text(translator("en"), s.a.org.name, found)
    assert "Mentor of the year" in text and "69.5 points" in text
    b = await top_service.top(world.session, s.b.org.id)
    assert [c.names[0] for c in b.mentors] == ["Наставник Чужак"]
    assert b.mentors[0].meetings == 9 and b.mentors[0].completed == 1


# -- through the dispatcher: scope and isolation -----------------------------------------------
async def _seed_app(database: Any) -> dict[str, int]:
    async with database.sessionmaker() as session:
        s = await seed(session)
        await session.commit()
        return {
            "a": s.a.org.id, "b": s.b.org.id,
            "curator_a": s.curator_a.telegram_id or 0,
            "mentor": s.a.mentor.telegram_id or 0, "mentee": s.a.mentee.telegram_id or 0,
        }


async def _press(fake: Any, bot: Any, dp: Any, user_id: int, markup: InlineKeyboardMarkup,
                 button: str) -> str:
    from aiogram.types import Update

    user = fake.user(user_id)
    user.started = True
    sent = await bot.send_message(user_id, "…", reply_markup=markup)
    query_id = await user.press(button, sent.message_id)
    raw = fake.pending_updates[-1]
    await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))
    return (await user.wait_callback_answer(query_id)).text or ""


def _button(action: ChartsAction, org: int) -> InlineKeyboardMarkup:
    data = ChartsCb(a=action, org=org).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="go", callback_data=data)]])


async def test_swot_and_top_scope(app: Any) -> None:
    fake, bot, dp, database = app
    ids = await _seed_app(database)
    curator = ids["curator_a"]
    text = await _say(fake, bot, dp, curator, "/swot")  # one organisation: no picker
    assert text.startswith("🧭 SWOT-анализ программы: Школа")
    assert "Школа Б" not in text and "Текст из школы Б" not in text
    text = await _say(fake, bot, dp, curator, "/top")
    assert "Наставник Пётр" in text and "Чужак" not in text
    assert await _say(fake, bot, dp, curator, f"/top {ids['b']}") == (
        f"Организации № {ids['b']} нет среди ваших.")
    for who in ("mentor", "mentee"):
        for command in ("/swot", "/top", "/charts"):
            assert await _say(fake, bot, dp, ids[who], command) == T("charts.only_curators")
    # forged buttons: a short answer and nothing sent
    user = fake.user(curator)
    before = len(user.messages)
    for action in ChartsAction:
        answer = await _press(fake, bot, dp, curator, _button(action, ids["b"]), "go")
        assert answer == T("charts.not_yours")
    assert len(user.messages) == before + len(ChartsAction)  # only the forged carriers
    answer = await _press(fake, bot, dp, ids["mentee"], _button(ChartsAction.TOP, ids["a"]),
                          "go")
    assert answer == T("charts.not_yours")
    # the coordinator picks an organisation
    text = await _say(fake, bot, dp, ADMIN, "/swot")
    assert text == T("charts.pick")
    picker = fake.user(ADMIN).messages[-1]
    assert picker.button_texts[:2] == ["Школа", "Школа Б"]
    await _press(fake, bot, dp, ADMIN, _button(ChartsAction.SWOT, ids["b"]), "go")
    shown = fake.user(ADMIN).messages[-1].text
    assert "Школа Б" in shown and "Текст из школы Б" in shown
