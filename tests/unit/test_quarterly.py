"""Quarterly reports: the quarter's start in each organisation's timezone, one invitation per
(mentor, pair, quarter), the accept / return-with-comment / resubmit flow and who may press
what (stale and repeated presses change nothing), and /forget erasing the texts."""

from __future__ import annotations

import datetime as dt

import pytest
from aiogram.types import InlineKeyboardMarkup, Update
from sqlalchemy import select

from bot.services import quarterly
from bot.services.closing import full_catalog
from bot.services.errors import NotYoursError, ServiceError, StaleError
from bot.services.privacy import forget
from bot.services.quarterly import Kind, Status
from bot.services.questionnaires import DATA_DIR
from bot.views import quarterly as views
from db.models import (
    Answer,
    MembershipStatus,
    OutboxMessage,
    PairStatus,
    Participant,
    QuarterlyReport,
    QuestionnaireResponse,
    ResponseStatus,
    Role,
)
from keyboards import quarterly as kb
from keyboards.callbacks import EditCb
from tests.unit.journal_world import (  # noqa: F401 - fixtures used by name
    NOW,
    World,
    db,
    world,
)
from tests.unit.test_journal_dispatch import T, _press, app  # noqa: F401 - the app fixture

JAN_1_10_MSK = dt.datetime(2027, 1, 1, 7, 0, tzinfo=dt.UTC)  # 10:00 in Europe/Moscow
CATALOG = full_catalog(DATA_DIR)
TEXTS = {"progress": "secret-progress", "worked": "talks", "difficulties": "exams",
         "plans": "olympiad"}


def test_quarter_starts_at_ten_local_in_each_timezone() -> None:
    assert quarterly.due(JAN_1_10_MSK - dt.timedelta(minutes=1), "Europe/Moscow") is None
    found = quarterly.due(JAN_1_10_MSK, "Europe/Moscow")
    assert found is not None and found.quarter == "2026Q4" and found.starts_at == JAN_1_10_MSK
    # Vladivostok (UTC+10): 1 January 10:00 local is 31 December 00:00 UTC.
    vladivostok = quarterly.due(dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.UTC), "Asia/Vladivostok")
    assert vladivostok is not None and vladivostok.quarter == "2026Q4"
    assert quarterly.due(dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC),
                         "Asia/Vladivostok") is None
    april = quarterly.due(dt.datetime(2027, 4, 3, 12, 0, tzinfo=dt.UTC), "Europe/Moscow")
    assert april is not None and april.quarter == "2027Q1"
    # A missed pass is made up within a week; not in the middle of a quarter.
    assert quarterly.due(JAN_1_10_MSK + dt.timedelta(days=6), "Europe/Moscow") is not None
    assert quarterly.due(JAN_1_10_MSK + dt.timedelta(days=8), "Europe/Moscow") is None
    assert quarterly.due(NOW, "Europe/Moscow") is None
    assert views.quarter_name(T, "2026Q4") == "IV квартал 2026"


async def test_invited_once_per_mentor_pair_and_quarter(world: World) -> None:
    s = world.session
    _, late_mentor = await world.member("Наставник Поздний", Role.MENTOR)
    _, late_mentee = await world.member("Ученик Поздний", Role.MENTEE)
    late = await world.pair_of(late_mentor, late_mentee)
    late.decided_at = JAN_1_10_MSK + dt.timedelta(hours=1)  # formed after the quarter's start
    _, ended_mentor = await world.member("Наставник Бывший", Role.MENTOR)
    await world.pair_of(ended_mentor, late_mentee, status=PairStatus.ENDED)
    await s.flush()
    assert await quarterly.invite_due(s, JAN_1_10_MSK - dt.timedelta(minutes=1)) == []
    notices = await quarterly.invite_due(s, JAN_1_10_MSK + dt.timedelta(hours=2))
    assert [(n.kind, n.pair_id, n.quarter) for n in notices] == [
        (Kind.INVITE, world.pair.id, "2026Q4")]
    assert notices[0].chat_id == world.mentor.telegram_id and notices[0].partner == "Ученик Иван"
    assert await views.queue(s, notices, JAN_1_10_MSK) == 1
    # The next pass, a restart, a day later: nobody twice.
    assert await quarterly.invite_due(s, JAN_1_10_MSK + dt.timedelta(days=1)) == []
    rows = (await s.execute(select(QuarterlyReport))).scalars().all()
    assert [(r.pair_id, r.status) for r in rows] == [(world.pair.id, Status.INVITED)]
    # The next quarter asks again.
    april = await quarterly.invite_due(s, dt.datetime(2027, 4, 1, 7, 0, tzinfo=dt.UTC))
    assert {n.quarter for n in april} == {"2027Q1"} and len(april) == 2


async def test_unreachable_mentor_is_recorded_not_sent(world: World) -> None:
    world.mentor.telegram_id = None
    await world.session.flush()
    assert await quarterly.invite_due(world.session, JAN_1_10_MSK) == []
    assert await quarterly.invite_due(world.session, JAN_1_10_MSK) == []
    [row] = (await world.session.execute(select(QuarterlyReport))).scalars().all()
    assert row.status == Status.UNREACHABLE


async def _curator(world: World) -> int:
    person, curator = await world.member("Куратор Ольга", Role.CURATOR)
    curator.confirmed_at = NOW
    curator.status = MembershipStatus.IN_BASE
    await world.session.flush()
    return person.id


async def _fill(world: World, response_id: int) -> QuestionnaireResponse:
    response = await world.session.get(QuestionnaireResponse, response_id)
    assert response is not None
    stored = select(Answer.id).where(Answer.response_id == response_id)
    if not (await world.session.execute(stored)).first():
        for key, value in {**TEXTS, "rating": "4"}.items():
            world.session.add(Answer(response_id=response_id, question_id=key, value=value,
                                     is_personal=key != "rating"))
    response.status = ResponseStatus.DONE
    await world.session.flush()
    return response


async def test_accept_return_resubmit_and_rights(world: World) -> None:
    s = world.session
    curator = await _curator(world)
    [invite] = await quarterly.invite_due(s, JAN_1_10_MSK)
    rid = invite.report_id
    with pytest.raises(NotYoursError):
        await quarterly.open_report(s, rid, world.mentee.id, 0, NOW)
    with pytest.raises(NotYoursError):
        await quarterly.open_report(s, rid, curator, 0, NOW)
    response_id = await quarterly.open_report(s, rid, world.mentor.id, 0, NOW)
    assert await quarterly.open_report(s, rid, world.mentor.id, 0, NOW) == response_id
    with pytest.raises(StaleError):  # nothing submitted yet: nothing to decide
        await quarterly.reviewable(s, rid, 0, curator)
    response = await _fill(world, response_id)
    [sent] = await quarterly.submit(s, response, NOW)
    assert (sent.kind, sent.participant_id, sent.version) == (Kind.SUBMITTED, curator, 1)
    assert await quarterly.submit(s, response, NOW) == []  # a repeat
    text, markup = views.render(sent, CATALOG, TEXTS)
    assert "secret-progress" in text and markup is not None
    with pytest.raises(StaleError):
        await quarterly.open_report(s, rid, world.mentor.id, 0, NOW)  # already submitted
    for stranger in (world.mentor.id, world.mentee.id, world.stranger.id, None):
        with pytest.raises(NotYoursError):
            await quarterly.reviewable(s, rid, 1, stranger)
    with pytest.raises(ServiceError):
        await quarterly.review(s, rid, 1, curator, comment=" ok ", now=NOW)
    [back] = await quarterly.review(s, rid, 1, curator, comment="Добавьте планы", now=NOW)
    assert back.kind == Kind.RETURNED and back.chat_id == world.mentor.telegram_id
    assert "Добавьте планы" in views.render(back)[0]
    for comment in (None, "Ещё раз вернуть"):  # the old buttons: stale, nothing changes
        with pytest.raises(StaleError):
            await quarterly.review(s, rid, 1, curator, comment=comment, now=NOW)
    report = await s.get(QuarterlyReport, rid)
    assert report is not None and report.status == Status.RETURNED
    assert report.comment == "Добавьте планы"
    # The mentor edits: the same response, re-opened with the answers kept.
    assert await quarterly.open_report(s, rid, world.mentor.id, 1, NOW) == response_id
    assert response.status == ResponseStatus.IN_PROGRESS and response.current_question is None
    [again] = await quarterly.submit(s, await _fill(world, response_id), NOW)
    assert again.version == 2 and again.key.endswith(f":2:{curator}")
    with pytest.raises(StaleError):  # the first submission's Accept
        await quarterly.review(s, rid, 1, curator, comment=None, now=NOW)
    [ok] = await quarterly.review(s, rid, 2, curator, comment=None, now=NOW)
    assert ok.kind == Kind.ACCEPTED and report.status == Status.ACCEPTED
    with pytest.raises(StaleError):
        await quarterly.review(s, rid, 2, curator, comment=None, now=NOW)
    with pytest.raises(StaleError):
        await quarterly.open_report(s, rid, world.mentor.id, 2, NOW)
    [item] = await quarterly.pair_reports(s, world.pair.id)
    listing = views.pair_text(T, CATALOG, [item])
    assert "IV квартал 2026" in listing and "принят" in listing and "secret-progress" in listing


async def test_forget_erases_report_texts_and_comments(world: World) -> None:
    s = world.session
    curator = await _curator(world)
    [invite] = await quarterly.invite_due(s, JAN_1_10_MSK)
    response_id = await quarterly.open_report(s, invite.report_id, world.mentor.id, 0, NOW)
    await quarterly.submit(s, await _fill(world, response_id), NOW)
    await quarterly.review(s, invite.report_id, 1, curator, comment="secret-comment", now=NOW)
    await forget(s, world.mentee, now=NOW, version=1)  # the pair's mentee leaves
    await s.flush()
    values = set((await s.execute(
        select(Answer.value).where(Answer.response_id == response_id))).scalars())
    assert values == {"4"}  # the rating stays for counts
    report = await s.get(QuarterlyReport, invite.report_id, populate_existing=True)
    assert report is not None and report.comment is None


async def test_forget_by_the_curator_erases_their_comment(world: World) -> None:
    s = world.session
    curator = await _curator(world)
    [invite] = await quarterly.invite_due(s, JAN_1_10_MSK)
    response_id = await quarterly.open_report(s, invite.report_id, world.mentor.id, 0, NOW)
    await quarterly.submit(s, await _fill(world, response_id), NOW)
    await quarterly.review(s, invite.report_id, 1, curator, comment="secret-comment", now=NOW)
    person = await s.get(Participant, curator)
    assert person is not None
    await forget(s, person, now=NOW, version=1)
    await s.flush()
    report = await s.get(QuarterlyReport, invite.report_id, populate_existing=True)
    assert report is not None and report.comment is None
    outbox = (await s.execute(select(OutboxMessage.id))).all()
    assert outbox == []  # nothing was queued in these service-level steps


async def _feed(fake, bot, dp) -> None:  # type: ignore[no-untyped-def]
    raw = fake.pending_updates[-1]
    await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))


async def test_return_with_comment_through_the_dispatcher(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        w = await World(session).setup()
        curator_id = await _curator(w)
        [invite] = await quarterly.invite_due(session, JAN_1_10_MSK)
        response_id = await quarterly.open_report(session, invite.report_id, w.mentor.id, 0, NOW)
        await quarterly.submit(session, await _fill(w, response_id), NOW)
        person = await session.get(Participant, curator_id)
        assert person is not None
        await session.commit()
        ids = (person.telegram_id, w.mentor.telegram_id, w.stranger.telegram_id)
        rid = invite.report_id
    curator, mentor, stranger = (fake.user(i or 0) for i in ids)
    buttons = InlineKeyboardMarkup.model_validate(kb.review(T, rid, 1))
    for someone in (mentor, stranger):
        for button in ("✅ Принять", "↩️ Вернуть с комментарием"):
            answer = await _press(fake, bot, dp, someone, buttons, button)
            assert answer == T("errors.quarterly_not_yours")
    assert await _press(fake, bot, dp, curator, buttons, "↩️ Вернуть с комментарием") == ""
    await curator.wait_message("Напишите комментарий для наставника")
    await curator.send("да")  # too short: what is expected, and the dialog stays
    await _feed(fake, bot, dp)
    await curator.wait_message("Жду комментарий текстом")
    await curator.send("Опишите трудности подробнее")
    await _feed(fake, bot, dp)
    await curator.wait_message("возвращен наставнику")
    async with database.sessionmaker() as session:
        report = await session.get(QuarterlyReport, rid)
        assert report is not None and report.status == Status.RETURNED
        assert report.comment == "Опишите трудности подробнее"
        [(text, markup)] = (await session.execute(
            select(OutboxMessage.payload["text"], OutboxMessage.payload["reply_markup"])
            .where(OutboxMessage.chat_id == ids[1]))).all()
        assert "Опишите трудности подробнее" in text and "qr:o" in str(markup)
    # The old buttons, pressed again: stale, nothing changes.
    answer = await _press(fake, bot, dp, curator, buttons, "✅ Принять")
    assert answer == T("errors.quarterly_reviewed")
    async with database.sessionmaker() as session:
        report = await session.get(QuarterlyReport, rid)
        assert report is not None and report.status == Status.RETURNED


def test_curators_message_fits_one_telegram_message() -> None:
    notice = quarterly.Notice(Kind.SUBMITTED, "k", 1, 1, "ru", 1, 7, 3, "2026Q4", version=1)
    long = {key: "я" * 1500 for key in TEXTS} | {"rating": "5"}
    text, _ = views.render(notice, CATALOG, long)
    assert len(text) < 4096 and "/reports 3" in text


async def test_profile_does_not_edit_a_quarterly_report(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        w = await World(session).setup()
        curator_id = await _curator(w)
        [invite] = await quarterly.invite_due(session, JAN_1_10_MSK)
        response_id = await quarterly.open_report(session, invite.report_id, w.mentor.id, 0, NOW)
        await quarterly.submit(session, await _fill(w, response_id), NOW)
        await quarterly.review(session, invite.report_id, 1, curator_id, comment=None, now=NOW)
        await session.commit()
        mentor = fake.user(w.mentor.telegram_id or 0)
    edit = InlineKeyboardMarkup.model_validate({"inline_keyboard": [[{
        "text": "edit", "callback_data": EditCb(r=response_id, q=0).pack()}]]})
    assert await _press(fake, bot, dp, mentor, edit, "edit") == T("common.stale_button")
    async with database.sessionmaker() as session:
        response = await session.get(QuestionnaireResponse, response_id)
        assert response is not None and response.status == ResponseStatus.DONE
