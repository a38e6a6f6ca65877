"""/export: the workbook's cells match a small seeded database, a person who used /forget is
in no sheet, another organisation's people are in none, typed text never becomes a formula,
CSV is one sheet with a BOM; through the dispatcher: the curator gets the document (built by
the worker process), another organisation and mentees/mentors get a refusal, a second
/export while one runs gets "уже готовлю"."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from aiogram.types import Update
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import report_worker
from bot.i18n import translator
from bot.services.privacy import forget
from bot.services.reports import export
from db.models import (
    Answer,
    MeetingFeedback,
    MeetingKind,
    MeetingStatus,
    Membership,
    MembershipStatus,
    Organisation,
    Participant,
    Plan,
    PlanGoal,
    PlanTask,
    Programme,
    QuestionnaireResponse,
    ResponseStatus,
    Role,
    SurveyResponse,
)
from keyboards import export as kb
from tests.backends import url_for
from tests.fakeapi import FakeTelegram
from tests.unit.journal_world import NOW, World, db, world  # noqa: F401 - fixtures
from tests.unit.test_journal_dispatch import _press, app  # noqa: F401 - the app fixture

T = translator("ru")
EN = translator("en")


async def _assessment(world: World, membership: Membership, stage: str,
                      scores: dict[str, int]) -> None:
    world.session.add(QuestionnaireResponse(
        membership_id=membership.id, questionnaire_id="assessment", questionnaire_version=1,
        stage=stage, status=ResponseStatus.DONE, completed_at=NOW,
        answers=[Answer(question_id=k, value=v) for k, v in scores.items()],
    ))
    await world.session.flush()


async def _seed(world: World) -> dict[str, Any]:
    """Organisation A (the world's) with a pair, its meeting, plan, poll and self-assessment,
    a person who then uses /forget, and organisation B with a mentee of its own."""
    s = world.session
    world.mentee_m.full_cycle_at = dt.datetime(2026, 11, 19, 21, 30, tzinfo=dt.UTC)
    world.mentee_m.category = "student"
    world.mentor_m.capacity, world.mentor_m.load = 3, 2  # /forget frees one
    curator, curator_m = await world.member("Куратор Ольга", Role.CURATOR)
    curator_m.confirmed_at, curator_m.status = NOW, MembershipStatus.IN_BASE
    meeting = await world.meeting(MeetingKind.INTRO, status=MeetingStatus.HELD,
                                  starts_at=dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.UTC))
    meeting.actual_minutes, meeting.topics = 45, "=HYPERLINK(\"http://x\")"
    meeting.next_steps, meeting.place = " Читать главу 2\nи 3", "Кабинет 5"
    meeting.logged_at = dt.datetime(2026, 11, 18, 14, 0, tzinfo=dt.UTC)
    s.add(MeetingFeedback(meeting_id=meeting.id, membership_id=world.mentee_m.id,
                          took_place=True, rating=4, answered_at=NOW))
    plan = Plan(pair_id=world.pair.id)
    s.add(plan)
    await s.flush()
    goal = PlanGoal(plan_id=plan.id, position=1, title="Подготовиться к олимпиаде",
                    target_date=dt.date(2027, 3, 1), progress=40)
    s.add(goal)
    await s.flush()
    s.add_all([PlanTask(goal_id=goal.id, position=1, title="a", done_at=NOW),
               PlanTask(goal_id=goal.id, position=2, title="b")])
    s.add(SurveyResponse(
        survey_id="poll-intro", survey_version=1, membership_id=world.mentee_m.id,
        pair_id=world.pair.id, milestone="intro", answers={"comfort": 9, "fit": "good_fit"},
        satisfaction=9, sent_at=NOW, submitted_at=NOW,
    ))
    await _assessment(world, world.mentee_m, "entry", {"engagement": 4, "anxiety": 8})
    await _assessment(world, world.mentee_m, "exit", {"engagement": 7, "anxiety": 5})

    # someone who leaves: a pair, a meeting, a poll, an assessment, then /forget
    leaver, leaver_m = await world.member("Забытый Фёдор", Role.MENTEE)
    leaver_pair = await world.pair_of(world.mentor_m, leaver_m)
    await world.meeting(pair=leaver_pair, status=MeetingStatus.HELD)
    s.add(SurveyResponse(survey_id="poll-intro", survey_version=1, membership_id=leaver_m.id,
                         pair_id=leaver_pair.id, milestone="intro", answers={}, satisfaction=2,
                         sent_at=NOW, submitted_at=NOW))
    await _assessment(world, leaver_m, "entry", {"engagement": 1})
    await s.flush()
    await forget(s, leaver, now=NOW, version=1)

    # organisation B
    other = Organisation(name="Колледж Б", timezone="Asia/Yekaterinburg")
    s.add(other)
    await s.flush()
    programme = Programme(organisation_id=other.id, name="Б", forms=["student-student"],
                          start_date=dt.date(2026, 9, 1), end_date=dt.date(2027, 5, 31))
    s.add(programme)
    await s.flush()
    stranger_b = Participant(telegram_id=777_001, full_name="Чужая Анна", language="ru")
    s.add(stranger_b)
    await s.flush()
    s.add(Membership(participant_id=stranger_b.id, organisation_id=other.id,
                     programme_id=programme.id, role=Role.MENTEE, status=MembershipStatus.IN_BASE))
    curator_b = Participant(telegram_id=777_002, full_name="Куратор Б", language="ru")
    s.add(curator_b)
    await s.flush()
    s.add(Membership(participant_id=curator_b.id, organisation_id=other.id, role=Role.CURATOR,
                     status=MembershipStatus.IN_BASE, confirmed_at=NOW))
    await s.commit()
    return {"meeting": meeting.id, "curator": curator.telegram_id, "other": other.id,
            "leaver_m": leaver_m.id, "curator_b": curator_b.telegram_id}


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(path)
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in book}


async def _build(tmp_path: Path, orgs: tuple[int, ...], language: str = "ru",
                 sheet: str | None = None) -> Path:
    out = tmp_path / ("out.csv" if sheet else "out.xlsx")
    url = url_for(tmp_path / "journal.db")
    await report_worker.build(url, export.Scope(orgs, NOW), language, out, sheet)
    return out


@pytest.fixture
async def seeded(world: World) -> tuple[World, dict[str, Any]]:
    return world, await _seed(world)


async def test_workbook_cells_match_the_database(seeded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, ids = seeded
    sheets = _rows(await _build(tmp_path, (world.org.id,)))
    assert list(sheets) == [T(f"export.sheet.{n}") for n in export.sheet_names()]

    mentors = sheets["Реестр наставников"]
    assert mentors[0][:3] == ("Организация", "№ участника", "ФИО")
    assert mentors[1:] == [("Школа", world.mentor_m.id, "Наставник Пётр", None,
                            "ученик — ученик", "в паре", "активен", mentors[1][7], 1, 3, None)]
    mentees = {r[2]: r for r in sheets["Реестр наставляемых"][1:]}
    assert set(mentees) == {"Ученик Иван", "Чужой Олег"}
    ivan = mentees["Ученик Иван"]
    assert ivan[3] == "обучающийся" and ivan[8] == "нет"
    assert ivan[9] == dt.datetime(2026, 11, 20)  # 21:30 UTC is the 20th in Moscow
    assert mentees["Чужой Олег"][9] is None

    pairs = sheets["Пары и этапы"][1:]
    assert pairs == [("Школа", world.pair.id, world.mentor_m.id, "Наставник Пётр",
                      world.mentee_m.id, "Ученик Иван", "ученик — ученик", None, "утверждена",
                      pairs[0][9], dt.datetime(2026, 10, 21))]

    (meeting,) = sheets["Журнал наставника"][1:]
    assert meeting[1:4] == (ids["meeting"], world.pair.id, None)
    assert meeting[4:10] == ("Наставник Пётр", "Ученик Иван", "знакомство", "состоялась",
                             dt.datetime(2026, 11, 18, 15, 0), 60)
    assert meeting[10:] == (45, "Кабинет 5", "=HYPERLINK(\"http://x\")", " Читать главу 2\nи 3",
                            dt.datetime(2026, 11, 18, 17, 0), "да", 4)

    (goal,) = sheets["Планы и цели"][1:]
    assert goal[1:] == (world.pair.id, "Наставник Пётр", "Ученик Иван", 1,
                        "Подготовиться к олимпиаде", dt.datetime(2027, 3, 1), 40, None, 1, 2)

    (poll,) = sheets["Опросы и анкеты"][1:]
    assert poll[1:7] == ("Как прошло знакомство", "после знакомства", world.pair.id,
                         world.mentee_m.id, "Ученик Иван", "наставляемый")
    assert poll[9:] == ("нет", 9, "comfort: 9; fit: good_fit")

    head, *assessment = sheets["Самооценка вход-выход"]
    assert head[4:7] == ("Вовлеченность: вход", "Вовлеченность: выход",
                         "Вовлеченность: изменение")
    assert head[14] == "Тревожность: выход"
    assert [r[1:] for r in assessment] == [
        (world.mentee_m.id, "Ученик Иван", "наставляемый", 4, 7, 3, *[None] * 6, 8, 5, -3,
         *[None] * 6),
    ]


async def test_formula_text_stays_text(seeded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, _ = seeded
    book = load_workbook(await _build(tmp_path, (world.org.id,)))
    cell = book["Журнал наставника"]["M2"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


async def test_forgotten_and_other_organisation_absent(seeded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, ids = seeded
    sheets = _rows(await _build(tmp_path, (world.org.id,)))
    cells = [c for rows in sheets.values() for row in rows for c in row]
    for name in ("Забытый Фёдор", "Чужая Анна", "Колледж Б", "Куратор Б"):
        assert name not in cells
    texts = " ".join(str(c) for c in cells)
    assert "Фёдор" not in texts and "Анна" not in texts
    # nothing about the leaver: no pair with them, no poll with satisfaction 2, no assessment
    assert ids["leaver_m"] not in [r[1] for r in sheets["Реестр наставляемых"][1:]]
    assert [r[4] for r in sheets["Пары и этапы"][1:]] == [world.mentee_m.id]
    assert len(sheets["Журнал наставника"]) == 2
    assert [r[10] for r in sheets["Опросы и анкеты"][1:]] == [9]
    assert {r[1] for r in sheets["Самооценка вход-выход"][1:]} == {world.mentee_m.id}


async def test_english_titles_and_csv_sheet(seeded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, _ = seeded
    sheets = _rows(await _build(tmp_path, (world.org.id,), "en"))
    assert "Mentor journal" in sheets and sheets["Mentors"][0][2] == "Name"
    raw = (await _build(tmp_path, (world.org.id,), "ru", "meetings")).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Организация" and len(rows) == 2
    assert rows[1][8] == "2026-11-18 15:00"
    assert rows[1][12] == "'=HYPERLINK(\"http://x\")"  # no formula in Excel


# -- through the dispatcher ------------------------------------------------------------------------
async def _say(fake: FakeTelegram, bot, dp, telegram_id: int, text: str) -> None:  # type: ignore[no-untyped-def]
    user = fake.user(telegram_id)
    await user.send(text)
    raw = fake.pending_updates[-1]
    await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))


async def test_commands_scope_refusals_and_the_document(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        world = await World(session).setup()
        ids = await _seed(world)
        mentee, mentor, org = world.mentee.telegram_id, world.mentor.telegram_id, world.org.id
    curator = fake.user(ids["curator"])

    for who in (mentee, mentor):
        await _say(fake, bot, dp, who, "/export")
        assert fake.user(who).messages[-1].text == T("export.curators_only")
    await _say(fake, bot, dp, ids["curator"], f"/export {ids['other']}")
    assert curator.messages[-1].text == T("export.not_yours")
    await _say(fake, bot, dp, ids["curator"], "/export all")
    assert curator.messages[-1].text == T("export.not_yours")
    await _say(fake, bot, dp, ids["curator"], "/export csv nosuch")
    assert "meetings" in curator.messages[-1].text and "<code>" not in curator.messages[-1].text

    await _say(fake, bot, dp, ids["curator"], "/export")
    assert curator.messages[-1].text == T("export.progress", percent=0)
    await _say(fake, bot, dp, ids["curator"], "/export")
    assert curator.messages[-1].text == T("export.busy")
    document = await curator.wait_message(contains="Выгрузка для мониторинга", timeout=60)
    assert document.document is not None
    assert document.document.filename == f"nastavnik-org{org}-2026-11-20.xlsx" or \
        document.document.filename.startswith(f"nastavnik-org{org}-")
    path = Path(fake.documents[-1].filename or "x.xlsx")
    book = load_workbook(io.BytesIO(fake.documents[-1].content or b""))
    assert "Журнал наставника" in book.sheetnames and path.suffix == ".xlsx"
    names = [c for ws in book for row in ws.iter_rows(values_only=True) for c in row]
    assert "Чужая Анна" not in names and "Ученик Иван" in names
    # the other organisation's curator gets only their own
    await _say(fake, bot, dp, ids["curator_b"], "/export")
    other = fake.user(ids["curator_b"])
    await other.wait_message(contains="Выгрузка для мониторинга", timeout=60)
    book = load_workbook(io.BytesIO(fake.documents[-1].content or b""))
    names = [c for ws in book for row in ws.iter_rows(values_only=True) for c in row]
    assert "Чужая Анна" in names and "Ученик Иван" not in names
    # one sheet as CSV
    await _say(fake, bot, dp, ids["curator"], "/export csv pairs")
    sent = await curator.wait_message(contains="(CSV)", timeout=60)
    assert sent.document is not None and (sent.document.filename or "").endswith(".csv")
    content = (fake.documents[-1].content or b"").decode("utf-8-sig")
    assert content.splitlines()[0].startswith("Организация;№ пары;№ наставника")
    assert "Ученик Иван" in content and "Чужая Анна" not in content


async def test_picker_presses_are_rechecked(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        world = await World(session).setup()
        ids = await _seed(world)
        mentee, org = world.mentee.telegram_id, world.org.id
    curator = fake.user(ids["curator"])
    forged = kb.picker([(ids["other"], "Колледж Б")], all_label="Все")
    assert await _press(fake, bot, dp, curator, forged, "Колледж Б") == T("export.not_yours")
    assert await _press(fake, bot, dp, curator, forged, "Все") == T("export.not_yours")
    own = kb.picker([(org, "Школа")], all_label=None, sheet="nosuch")
    assert await _press(fake, bot, dp, curator, own, "Школа") == T("export.not_yours")
    assert await _press(fake, bot, dp, fake.user(mentee), kb.picker([(org, "Школа")],
                        all_label=None), "Школа") == T("export.not_yours")
    assert not fake.documents
    # a coordinator picks among every organisation, or all of them
    async with database.sessionmaker() as session:
        boss = Participant(telegram_id=777_100, full_name="Координатор", language="ru",
                           is_coordinator=True)
        session.add(boss)
        await session.commit()
    await _say(fake, bot, dp, 777_100, "/export")
    picker = fake.user(777_100).messages[-1]
    assert picker.text == T("export.choose_org")
    assert picker.button_texts == ["Школа", "Колледж Б", T("export.all_orgs")]
    await fake.user(777_100).press(T("export.all_orgs"), picker.message_id)
    await dp.feed_update(bot, Update.model_validate(fake.pending_updates[-1],
                                                    context={"bot": bot}))
    sent = await fake.user(777_100).wait_message(contains="все организации", timeout=60)
    assert (fake.documents[-1].filename or "").startswith("nastavnik-all-")
    book = load_workbook(io.BytesIO(fake.documents[-1].content or b""))
    names = [c for ws in book for row in ws.iter_rows(values_only=True) for c in row]
    assert "Чужая Анна" in names and "Ученик Иван" in names and sent.document is not None

    # a real press on the curator's own organisation: the CSV of meetings arrives
    own = kb.picker([(org, "Школа")], all_label=None, sheet="meetings")
    assert await _press(fake, bot, dp, curator, own, "Школа") == ""
    await curator.wait_message(contains="(CSV)", timeout=60)
    assert (fake.documents[-1].filename or "").endswith(".csv")


async def test_the_worker_never_holds_the_write_lock(seeded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Mid-export (a page read, the next pending) the bot still writes at once; the worker's
    connection itself cannot write."""
    world, _ = seeded
    url = url_for(tmp_path / "journal.db")
    engine = report_worker.read_only_engine(url)
    try:
        async with AsyncSession(engine) as reader:
            sheet = export.find_sheet("mentees")
            assert sheet is not None
            pages = sheet.rows(reader, export.Scope((world.org.id,), NOW))
            assert await anext(pages)
            world.session.add(Organisation(name="Новая", timezone="Europe/Moscow"))
            await asyncio.wait_for(world.session.commit(), timeout=2)
            await pages.aclose()
            with pytest.raises(DBAPIError, match="readonly|read-only|query_only"):
                await reader.execute(text("UPDATE organisations SET name = 'x'"))
    finally:
        await engine.dispose()
