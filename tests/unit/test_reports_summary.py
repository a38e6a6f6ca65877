"""/summary on a seeded organisation (hand-counted), and the reports through the production
dispatcher: a curator of A gets nothing of B from /summary, /kpi, /totals or a forged button;
mentees and mentors get a refusal; the /totals dialog validates and saves; the ОВЗ mark on the
card; a coordinator picks among many organisations page by page; /targets."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from aiogram import Bot
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import InlineKeyboardMarkup, Update
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Database, create_bot, create_dispatcher
from bot.clock import FrozenClock
from bot.config import Settings, load_settings
from bot.i18n import translator
from bot.services.privacy import forget
from bot.services.reports import summary
from bot.views.reports import render_summary
from db.migrate import upgrade_to_head
from db.models import (
    KpiTarget,
    MeetingKind,
    MeetingStatus,
    Membership,
    MembershipStatus,
    Organisation,
    OrgTotals,
    PairStatus,
    Participant,
    ParticipantStatus,
    QuestionnaireResponse,
    ResponseStatus,
    Role,
    SurveyResponse,
)
from keyboards import reports as kb
from keyboards.reports import ReportAction, ReportCb
from tests.backends import url_for
from tests.fakeapi import FakeTelegram
from tests.fakeapi.server import FakeUser
from tests.unit.journal_world import World, db  # noqa: F401 - the fixture, used by name

T = translator("ru")
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)  # Moscow: 20 November, 15:00


async def _summary_world(session: AsyncSession) -> World:
    w = await World(session).setup()  # mentor + mentee in an approved pair, a stranger mentee
    s = session
    # questionnaire progress: the mentee done, the stranger in progress; the mentor none
    for membership, status in ((w.mentee_m, ResponseStatus.DONE),
                               (w.mentee_m, ResponseStatus.IN_PROGRESS)):
        s.add(QuestionnaireResponse(membership_id=membership.id, questionnaire_id=str(status),
                                    questionnaire_version=1, stage="onboarding", status=status))
    [stranger_m] = (await s.execute(select(Membership).where(
        Membership.participant_id == w.stranger.id))).scalars()
    s.add(QuestionnaireResponse(membership_id=stranger_m.id, questionnaire_id="q",
                                questionnaire_version=1, stage="onboarding",
                                status=ResponseStatus.IN_PROGRESS))
    _, pending = await w.member("Ждёт Согласия", Role.MENTEE)
    pending.status = MembershipStatus.CONSENT_PENDING
    paused, left = await w.member("Ушедший", Role.MENTEE)
    left.status = MembershipStatus.WITHDRAWN
    paused.status = ParticipantStatus.PAUSED
    w.stranger.status = ParticipantStatus.UNREACHABLE
    # pairs: the world's pair (approved 30 days ago), a busy pair, a new pair, a group, ended
    _, m2 = await w.member("Наставник Второй", Role.MENTOR)
    _, e2 = await w.member("Ученик Второй", Role.MENTEE)
    busy = await w.pair_of(m2, e2)
    busy.status = PairStatus.REGULAR
    _, e3 = await w.member("Ученик Новый", Role.MENTEE)
    fresh = await w.pair_of(m2, e3)
    fresh.decided_at = NOW - dt.timedelta(days=5)  # too new to be idle
    _, g1 = await w.member("Группа Один", Role.MENTEE)
    _, g2 = await w.member("Группа Два", Role.MENTEE)
    first = await w.pair_of(m2, g1, group_key="g1")
    second = await w.pair_of(m2, g2, group_key="g1")  # its meetings are on `first`
    first.status = second.status = PairStatus.TRIAL
    await w.pair_of(m2, e3, status=PairStatus.ENDED)
    await s.flush()
    held, day = MeetingStatus.HELD, dt.timedelta(days=1)
    await w.meeting(MeetingKind.INTRO, starts_at=NOW - 20 * day, status=held)  # idle since
    await w.meeting(MeetingKind.REGULAR, pair=busy, starts_at=NOW - 3 * day, status=held)
    await w.meeting(MeetingKind.TRIAL, pair=first, group_key="g1", starts_at=NOW - 2 * day,
                    status=held)
    # this month in Moscow starts at 31 October 21:00 UTC
    await w.meeting(MeetingKind.REGULAR, pair=busy, status=held,
                    starts_at=dt.datetime(2026, 10, 31, 21, 30, tzinfo=dt.UTC))  # 1 Nov 00:30
    await w.meeting(MeetingKind.REGULAR, pair=busy, status=held,
                    starts_at=dt.datetime(2026, 10, 31, 20, 30, tzinfo=dt.UTC))  # 31 Oct
    await w.meeting(MeetingKind.REGULAR, pair=busy, status=MeetingStatus.NOT_HELD,
                    starts_at=NOW - 4 * day)
    # polls: three sent, two answered; satisfaction 9 (mentee), 5 (mentor)
    for membership, value, answered in ((w.mentee_m, 9, True), (w.mentor_m, 5, True),
                                        (e2, None, False)):
        s.add(SurveyResponse(survey_id="poll-final", survey_version=1, membership_id=membership.id,
                             milestone="final", sent_at=NOW - 2 * day, satisfaction=value,
                             submitted_at=NOW - day if answered else None))
    await s.flush()
    return w


async def test_summary_hand_counted(db) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    async with db() as session:
        w = await _summary_world(session)
        other = Organisation(name="Чужая", timezone="Europe/Moscow")
        session.add(other)
        await session.flush()
        found = await summary(session, w.org.id, NOW)
        empty = await summary(session, other.id, NOW)
    # mentees: Иван (done: one of his two responses is finished), Олег (in progress), one
    # awaiting consent, one withdrawn, and four without a questionnaire (Ученик Второй,
    # Ученик Новый, Группа Один, Группа Два)
    assert found.people[Role.MENTEE] == {"done": 1, "in_progress": 1, "consent_pending": 1,
                                         "withdrawn": 1, "not_started": 4}
    assert found.people[Role.MENTOR] == {"not_started": 2}
    # pairs: approved (world's, fresh), regular (busy), trial x2 (group), ended
    assert found.pairs == {"approved": 2, "regular": 1, "trial": 2, "ended": 1}
    # held this month (from 1 Nov 00:00 Moscow = 31 Oct 21:00 UTC): 3 days ago, 2 days ago
    # (the group's), 1 Nov 00:30 local = 3; not 20 days ago (31 Oct 15:00 local), not the
    # 31 Oct 23:30 local one, not the one that did not take place
    assert found.meetings_month == 3
    # idle 14+ days: only the world's pair (last held 20 days ago); busy held 3 days ago, the
    # group's second pair shares the group's meeting, the fresh pair is 5 days old
    assert found.idle_pairs == 1
    assert (found.paused, found.unreachable) == (1, 1)
    assert (found.polls_sent, found.polls_answered) == (3, 2)
    # satisfied: 8-10 -> mentee 9: 1 of 1 (100 %), mentor 5: 0 of 1 (0 %)
    assert found.satisfaction == {"mentee": (1, 1), "mentor": (0, 1)}
    assert found.share("mentee") == 100.0 and found.share("mentor") == 0.0
    text = render_summary(T, found, "Школа <№1>")
    assert "Школа &lt;№1&gt;" in text and "Наставляемые — 8" in text
    assert "Встреч проведено в этом месяце: <b>3</b>" in text
    assert "Пар без встреч 14+ дней: <b>1</b>" in text
    assert "Наставляемые: 100 % (1 из 1)" in text and "Наставники: 0 % (0 из 1)" in text
    assert empty.pairs == {} and empty.meetings_month == 0 and empty.share("mentee") is None
    assert "ответов пока нет" in render_summary(T, empty, "Чужая")


# -- through the dispatcher -------------------------------------------------------------------
@pytest_asyncio.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, Bot, object, Database]]:
    fake = FakeTelegram()
    await fake.start()
    url = url_for(tmp_path / "reports.db")
    await asyncio.to_thread(upgrade_to_head, url)
    settings = load_settings(
        Settings, bot_token=fake.token, telegram_api_base=fake.base_url, database_url=url,
        outbox_chat_rate=30.0,  # one curator types fast here: the bot's pacing is not the point
    )
    fake.set_limits(chat_rate=None)
    database = Database.from_url(url)
    bot = create_bot(settings)
    dp = create_dispatcher(settings, database, storage=MemoryStorage(), clock=FrozenClock(NOW))
    await bot.me()
    dp["bot_username"] = "nastavnik_test_bot"
    try:
        yield fake, bot, dp, database
    finally:
        await bot.session.close()
        await database.close()
        await fake.stop()


async def _feed(fake, bot, dp) -> None:  # type: ignore[no-untyped-def]
    raw = fake.pending_updates[-1]
    await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))


async def _say(fake, bot, dp, user: FakeUser, text: str) -> str:  # type: ignore[no-untyped-def]
    """The user sends a text; returns the bot's answer (all new messages joined)."""
    user.started = True
    before = len(user.messages)
    await user.send(text)
    await _feed(fake, bot, dp)
    return "\n".join(m.text for m in user.messages[before:])


async def _press(fake, bot, dp, user: FakeUser, data: ReportCb,  # type: ignore[no-untyped-def]
                 text: str = "btn") -> str:
    user.started = True
    markup = InlineKeyboardMarkup.model_validate(
        {"inline_keyboard": [[{"text": text, "callback_data": data.pack()}]]})
    sent = await bot.send_message(user.id, "…", reply_markup=markup)
    query_id = await user.press(text, sent.message_id)
    await _feed(fake, bot, dp)
    return (await user.wait_callback_answer(query_id)).text or ""


async def _curator(w: World, name: str = "Куратор Ольга") -> Participant:
    person, curator = await w.member(name, Role.CURATOR)
    curator.confirmed_at = NOW
    curator.status = MembershipStatus.IN_BASE
    await w.session.flush()
    return person


async def test_isolation_forgery_and_refusals(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        a = await World(session).setup()
        curator = await _curator(a)
        b = await World(session).setup()
        b.org.name = "Секретный лицей"
        b_member = (await session.execute(select(Membership).where(
            Membership.participant_id == b.mentee.id))).scalar_one()
        await session.commit()
        ids = (curator.telegram_id, a.mentee.telegram_id, a.mentor.telegram_id)
        a_org, b_org, b_member_id = a.org.id, b.org.id, b_member.id
    cur, mentee, mentor = (fake.user(i or 0) for i in ids)

    for someone in (mentee, mentor):
        for command in ("/summary", "/kpi", f"/kpi {a_org}", "/totals", "/targets"):
            answer = await _say(fake, bot, dp, someone, command)
            assert answer == T("reports.curators_only")
        assert await _press(fake, bot, dp, someone, ReportCb(a=ReportAction.SUMMARY,
                                                             org=a_org)) == T(
            "errors.reports_not_yours")

    answer = await _say(fake, bot, dp, cur, "/summary")  # one organisation: no picker
    assert "Сводка: Школа" in answer and "Секретный" not in answer
    assert "Графики" in " ".join(cur.messages[-1].button_texts)
    for command in (f"/summary {b_org}", f"/kpi {b_org}", f"/kpi {b_org} 2026",
                    f"/totals {b_org}", f"/targets {b_org}", f"/targets {b_org} 2026 students 1"):
        answer = await _say(fake, bot, dp, cur, command)
        assert answer == T("reports.no_org"), command
    answer = await _say(fake, bot, dp, cur, f"/kpi {a_org} 2026")
    assert "Целевые показатели: Школа, 2026 год" in answer and "укажите /totals" in answer

    before = len(cur.messages)
    for action in (ReportAction.SUMMARY, ReportAction.KPI, ReportAction.TOTALS,
                   ReportAction.SAVE):
        answer = await _press(fake, bot, dp, cur, ReportCb(a=action, org=b_org, y=2026))
        assert answer == T("errors.reports_not_yours")
    answer = await _press(fake, bot, dp, cur, ReportCb(a=ReportAction.OVZ, id=b_member_id,
                                                       v="1"))
    assert answer == T("errors.reports_not_yours")
    assert await _say(fake, bot, dp, cur, f"/targets {a_org} 2026 students 5") == T(
        "reports.targets_coordinator_only")
    assert len(cur.messages) == before + 5 + 1  # the five forged buttons' messages, one reply
    async with database.sessionmaker() as session:
        assert (await session.execute(select(OrgTotals))).first() is None
        assert (await session.execute(select(KpiTarget))).first() is None
        member = await session.get(Membership, b_member_id)
        assert member is not None and member.is_disabled_student is False


async def test_totals_dialog_and_kpi(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        a = await World(session).setup()
        curator = await _curator(a)
        a.mentee_m.full_cycle_at = NOW - dt.timedelta(days=1)
        a.mentee_m.category = "student"
        await session.commit()
        cur, org_id = fake.user(curator.telegram_id or 0), a.org.id
    answer = await _say(fake, bot, dp, cur, "/totals")
    assert "1/5." in answer and "Сколько всего обучающихся" in answer
    for wrong in ("много", "-5", "1.5", "٣"):
        assert await _say(fake, bot, dp, cur, wrong) == T("reports.totals_invalid")
    for i, value in enumerate(("1 000", "10", "80", "8", "300")):
        answer = await _say(fake, bot, dp, cur, value)
        if i < 4:
            assert f"{i + 2}/5." in answer
    assert "Проверьте численность" in answer and "1000" in answer
    # a forged "save" for another year changes nothing
    assert await _press(fake, bot, dp, cur, ReportCb(a=ReportAction.SAVE, org=org_id,
                                                     y=2020)) == T("errors.reports_totals_stale")
    query_id = await cur.press("✅ Сохранить")
    await _feed(fake, bot, dp)
    await cur.wait_callback_answer(query_id)
    assert "Численность сохранена" in cur.messages[-1].text
    async with database.sessionmaker() as session:
        [row] = (await session.execute(select(OrgTotals))).scalars()
        assert (row.organisation_id, row.year, row.students, row.students_disabled, row.teachers,
                row.young_teachers, row.aged_15_19) == (org_id, 2026, 1000, 10, 80, 8, 300)
    # a repeated press after saving: stale, nothing saved twice
    assert await _press(fake, bot, dp, cur, ReportCb(a=ReportAction.SAVE, org=org_id,
                                                     y=2026)) == T("errors.reports_totals_stale")
    answer = await _say(fake, bot, dp, cur, "/kpi")
    # 1 student (the mentee, full cycle yesterday) of 1000 = 0.1 %; target 70 % -> not met
    assert "0,1 % (1/1000)" in answer and "не достигнут" in answer


async def test_ovz_mark_on_the_card(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        a = await World(session).setup()
        curator = await _curator(a)
        await session.commit()
        cur, mentee_m = fake.user(curator.telegram_id or 0), a.mentee_m.id
    answer = await _say(fake, bot, dp, cur, "/mentees")
    query_id = await cur.press("Ученик Иван", exact=False)
    await _feed(fake, bot, dp)
    await cur.wait_callback_answer(query_id)
    card = cur.messages[-1]
    assert "ОВЗ: нет" in card.text and "♿ Отметить ОВЗ" in card.button_texts
    query_id = await cur.press("♿ Отметить ОВЗ", card.message_id)
    await _feed(fake, bot, dp)
    assert (await cur.wait_callback_answer(query_id)).text == T("reports.ovz_set")
    assert "Снять отметку ОВЗ" in cur.find_message(card.message_id).button_texts  # type: ignore[union-attr]
    # the same "mark" pressed again (an old copy): nothing changes
    again = await _press(fake, bot, dp, cur, ReportCb(a=ReportAction.OVZ, id=mentee_m, v="1"))
    assert again == T("reports.ovz_already")
    async with database.sessionmaker() as session:
        member = await session.get(Membership, mentee_m)
        assert member is not None and member.is_disabled_student is True
        # /forget erases the mark (personal data)
        person = await session.get(Participant, member.participant_id)
        assert person is not None
        await forget(session, person, now=NOW, version=1)
        await session.commit()
        member = await session.get(Membership, mentee_m, populate_existing=True)
        assert member is not None and member.is_disabled_student is False
    assert answer  # the list was shown


async def test_coordinator_pages_and_targets(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        a = await World(session).setup()
        coordinator = Participant(telegram_id=990_001, language="ru", full_name="Коорд",
                                  is_coordinator=True)
        session.add(coordinator)
        for i in range(kb.PAGE_SIZE + 2):
            session.add(Organisation(name=f"Орг {i:02d}", timezone="Europe/Moscow"))
        await session.commit()
        org_id = a.org.id
    coord = fake.user(990_001)
    answer = await _say(fake, bot, dp, coord, "/summary")
    assert answer == T("reports.pick_org")
    picker = coord.messages[-1]
    assert len(picker.button_texts) == kb.PAGE_SIZE + 1 and "▶️" in picker.button_texts
    query_id = await coord.press("▶️", picker.message_id)
    await _feed(fake, bot, dp)
    await coord.wait_callback_answer(query_id)
    page2 = coord.find_message(picker.message_id)
    assert page2 is not None and "Орг 09" in page2.button_texts and "◀️" in page2.button_texts
    query_id = await coord.press("Орг 09", picker.message_id)
    await _feed(fake, bot, dp)
    await coord.wait_callback_answer(query_id)
    assert "Сводка: Орг 09" in coord.messages[-1].text
    answer = await _say(fake, bot, dp, coord, f"/targets {org_id} 2026 students 55")
    assert "<code>students</code>" not in answer and "students — " in answer
    assert "55 %" in answer
    async with database.sessionmaker() as session:
        [target] = (await session.execute(select(KpiTarget))).scalars()
        assert (target.organisation_id, target.year, target.code, target.target_pct) == (
            org_id, 2026, "students", 55)
    answer = await _say(fake, bot, dp, coord, f"/targets {org_id} 2026 nonsense 55")
    assert "Нет такого показателя" in answer
