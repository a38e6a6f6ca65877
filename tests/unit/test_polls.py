"""Feedback polls: the milestone dispatcher (once per milestone), the reminder and the close
with a moved clock, "not a fit" → the curator's alert → the pair ended for a re-match,
"not sure yet" asked again after the next meeting, low ratings, /forget."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy import func, select

from bot.i18n import translator
from bot.ids import MAX_ID
from bot.services import (
    journal,
    milestones,
    organisations,
    pairing,
    polls,
    privacy,
    process_polls,
)
from bot.services.polls import NoticeKind, Reason
from bot.services.questionnaires import Catalog
from bot.services.stages import Milestone, advance_on_held
from bot.views.polls import answers_text, queue, render
from db.models import (
    Answer,
    AuditLog,
    MeetingFeedback,
    MeetingKind,
    MeetingStatus,
    Membership,
    MembershipStatus,
    OutboxMessage,
    Pair,
    PairStatus,
    ResponseStatus,
    Role,
    SurveyResponse,
)
from db.queries import pairs as q_pairs
from db.queries import responses as q_responses
from keyboards import polls as poll_kb
from tests.unit.journal_world import (  # noqa: F401 - fixtures used by name
    NOW,
    World,
    db,
    world,
)
from tests.unit.test_journal_dispatch import _press, app  # noqa: F401 - the fixture
from tests.unit.test_questionnaire_data import _check_i18n, _validate_question

T = translator("ru")


async def _curator(world: World) -> Membership:
    person, membership = await world.member("Куратор Ольга", Role.CURATOR)
    membership.programme_id = None
    membership.status = MembershipStatus.IN_BASE
    membership.confirmed_at = NOW
    await world.session.flush()
    return membership


async def _held(world: World, kind: MeetingKind) -> list[polls.PollNotice]:
    meeting = await world.meeting(kind)
    meeting.status = MeetingStatus.HELD
    change = await advance_on_held(world.session, meeting, world.mentor.id, NOW)
    return await milestones.on_held(world.session, meeting, change, NOW)


async def _answer(
    world: World, notice: polls.PollNotice, answers: dict[str, object],
    now: dt.datetime = NOW,
) -> list[polls.PollNotice]:
    """Fill the poll the notice invites to (as the engine would) and submit it."""
    participant = world.mentee if notice.telegram_id == world.mentee.telegram_id else world.mentor
    _, response_id = await polls.open_poll(
        world.session, notice.survey_response_id, participant.id, now
    )
    response = await q_responses.get(world.session, response_id)
    assert response is not None
    poll = polls.default_polls()[notice.poll_id]
    for question_id, value in answers.items():
        question = poll.questionnaire.question(question_id)
        assert question is not None
        response.answers.append(Answer(question_id=question_id, value=value,
                                       is_personal=question.stores_personal))
    response.status = ResponseStatus.DONE
    await world.session.flush()
    return await polls.submit(world.session, response, now)


def _intro(fit: str) -> dict[str, object]:
    return {"impression": "good", "comfort": 7, "comment": "Говорили о книгах", "fit": fit}


async def test_intro_poll_to_both_sides_once(world: World) -> None:
    notices = await _held(world, MeetingKind.INTRO)
    assert {(n.kind, n.poll_id, n.telegram_id) for n in notices} == {
        (NoticeKind.INVITE, "poll-intro", world.mentee.telegram_id),
        (NoticeKind.INVITE, "poll-intro", world.mentor.telegram_id),
    }
    assert await queue(world.session, notices, NOW) == 2
    # keys name person, poll, pair and milestone
    assert notices[0].key == (
        f"poll:poll-intro:{world.mentee_m.id}:{world.pair.id}:intro"
    )
    # the same milestone again (a repeated dispatch): nothing new is queued
    again = await milestones.on_milestones(
        world.session, [Milestone(world.pair.id, PairStatus.INTRO, 0)], NOW
    )
    assert again == []
    assert await queue(world.session, notices, NOW) == 0
    count = await world.session.scalar(select(func.count()).select_from(OutboxMessage))
    assert count == 2
    text, markup = render(notices[0])
    assert "знакомство" in text and markup is not None
    # a trial meeting is no poll milestone; planning and final are
    assert await _held(world, MeetingKind.TRIAL) == []
    planning = await _held(world, MeetingKind.PLANNING)
    assert {n.poll_id for n in planning} == {"poll-planning"}
    final = await _held(world, MeetingKind.FINAL)
    assert {(n.poll_id, n.telegram_id) for n in final} == {
        ("poll-final-mentee", world.mentee.telegram_id),
        ("poll-final-mentor", world.mentor.telegram_id),
    }


async def test_one_reminder_after_two_days_closed_after_fourteen(world: World) -> None:
    notices = await _held(world, MeetingKind.INTRO)
    mentee_notice = next(n for n in notices if n.telegram_id == world.mentee.telegram_id)
    await _answer(world, mentee_notice, _intro(polls.GOOD_FIT))
    assert await polls.due(world.session, NOW + dt.timedelta(days=1, hours=23)) == []
    later = NOW + dt.timedelta(days=2, minutes=1)
    reminders = await polls.due(world.session, later)
    # only the mentor's poll is unanswered
    assert [(n.kind, n.telegram_id) for n in reminders] == [
        (NoticeKind.REMINDER, world.mentor.telegram_id)
    ]
    assert await queue(world.session, reminders, later) == 1
    assert await polls.due(world.session, NOW + dt.timedelta(days=5)) == []
    closing = NOW + dt.timedelta(days=14, minutes=1)
    assert await polls.due(world.session, closing) == []
    rows = (await world.session.execute(select(SurveyResponse))).scalars().all()
    mentor_row = next(r for r in rows if r.membership_id == world.mentor_m.id)
    mentee_row = next(r for r in rows if r.membership_id == world.mentee_m.id)
    assert mentor_row.closed_at == closing and mentor_row.reminded_at == later
    assert mentor_row.due_at is None and mentee_row.reminded_at is None
    assert mentee_row.answers == {"impression": "good", "comfort": 7, "fit": "good_fit"}
    # a closed poll cannot be opened any more
    mentor_notice = next(n for n in notices if n.telegram_id == world.mentor.telegram_id)
    try:
        await polls.open_poll(world.session, mentor_notice.survey_response_id,
                              world.mentor.id, closing)
    except Exception as exc:  # noqa: BLE001
        assert getattr(exc, "code", "") == "poll_closed"
    else:
        raise AssertionError("a closed poll opened")


async def test_not_a_fit_alerts_the_curator_and_ends_the_pair(world: World) -> None:
    curator = await _curator(world)
    world.mentor_m.capacity, world.mentor_m.load = 1, 1
    notices = await _held(world, MeetingKind.INTRO)
    mentee_notice = next(n for n in notices if n.telegram_id == world.mentee.telegram_id)
    # someone else cannot open the mentee's poll
    try:
        await polls.open_poll(world.session, mentee_notice.survey_response_id,
                              world.mentor.id, NOW)
    except Exception as exc:  # noqa: BLE001
        assert getattr(exc, "code", "") == "poll_not_yours"
    else:
        raise AssertionError("opened by the wrong person")
    alerts = await _answer(world, mentee_notice, _intro(polls.NOT_FIT))
    assert [(a.kind, a.reason, a.role, a.pair_id) for a in alerts] == [
        (NoticeKind.ALERT, Reason.NOT_FIT, "mentee", world.pair.id)
    ]
    text, markup = render(alerts[0])
    assert "не подходим" in text and f"Пара #{world.pair.id}" in text
    assert markup is not None and len(markup["inline_keyboard"]) == 2  # end/keep, answers
    assert alerts[0].telegram_id == (await world.session.get(
        type(world.mentee), curator.participant_id)).telegram_id  # type: ignore[union-attr]
    audit = (await world.session.execute(
        select(AuditLog).where(AuditLog.action == "pair.not_a_fit"))).scalars().all()
    assert len(audit) == 1 and audit[0].target_id == world.pair.id
    # one tap: the pair ends, the mentor's place is freed, the couple never proposed again
    result = await pairing.unpair(
        world.session, world.pair.id, org_ids=[world.org.id], actor_id=curator.participant_id,
        now=NOW,
    )
    assert result.pair.status == PairStatus.ENDED
    await world.session.refresh(world.mentor_m)
    await world.session.refresh(world.mentee_m)
    assert world.mentor_m.load == 0
    assert world.mentee_m.status == MembershipStatus.IN_BASE
    closed = await q_pairs.closed_couples(world.session, world.programme.id)
    assert (world.mentee_m.id, world.mentor_m.id) in closed
    # the curator's view of the pair's answers shows the mentee's poll
    card, found = await polls.pair_polls(world.session, world.pair.id, org_ids=[world.org.id])
    shown = answers_text(translator("ru"), card, found)
    assert "Нет, не подходим" in shown and "Говорили о книгах" in shown


async def test_not_sure_from_both_is_asked_again_after_the_trial(world: World) -> None:
    notices = await _held(world, MeetingKind.INTRO)
    for notice in notices:
        assert await _answer(world, notice, _intro(polls.NOT_SURE)) == []
    again = await _held(world, MeetingKind.TRIAL)
    assert {(n.poll_id, n.telegram_id) for n in again} == {
        ("poll-fit-again", world.mentee.telegram_id),
        ("poll-fit-again", world.mentor.telegram_id),
    }
    mentee_again = next(n for n in again if n.telegram_id == world.mentee.telegram_id)
    mentor_again = next(n for n in again if n.telegram_id == world.mentor.telegram_id)
    await _answer(world, mentee_again, {"fit": polls.GOOD_FIT})
    # the mentor has not answered yet: nothing new; then "not sure" again → asked again
    assert await _held(world, MeetingKind.REGULAR) == []
    await _answer(world, mentor_again, {"fit": polls.NOT_SURE})
    third = await _held(world, MeetingKind.REGULAR)
    assert [(n.poll_id, n.telegram_id) for n in third] == [
        ("poll-fit-again", world.mentor.telegram_id)
    ]


async def test_low_rating_and_low_satisfaction_alert(world: World) -> None:
    await _curator(world)
    meeting = await world.meeting(MeetingKind.INTRO)
    row = MeetingFeedback(meeting_id=meeting.id, membership_id=world.mentee_m.id,
                          took_place=True, rating=2, requested_at=NOW)
    world.session.add(row)
    await world.session.flush()
    alerts = await journal.low_rating_alerts(world.session, row, NOW)
    assert [(a.reason, a.value) for a in alerts] == [(Reason.LOW_RATING, "2")]
    row.rating = 3
    assert await journal.low_rating_alerts(world.session, row, NOW) == []
    final = await _held(world, MeetingKind.FINAL)
    mentee_final = next(n for n in final if n.telegram_id == world.mentee.telegram_id)
    alerts = await _answer(world, mentee_final, {
        "satisfaction": 4, "goals": "some", "relationship": 5, "again": False,
    })
    assert [(a.reason, a.value) for a in alerts] == [(Reason.LOW_SATISFACTION, "4")]
    mentor_final = next(n for n in final if n.telegram_id == world.mentor.telegram_id)
    assert await _answer(world, mentor_final, {
        "satisfaction": 9, "goals": "most", "relationship": 8, "again": True,
    }) == []
    kpi = await polls.satisfaction(world.session, [world.programme.id], world.org.satisfied_from)
    assert (kpi.answered, kpi.satisfied, kpi.threshold) == (2, 1, 8)
    # the organisation's own threshold
    await organisations.update_settings(world.session, world.org.id, satisfied_from=10)
    [(name, by_org)] = await polls.satisfaction_by_org(world.session, [world.org.id])
    assert (name, by_org.answered, by_org.satisfied) == ("Школа", 2, 0)


async def test_forget_erases_free_texts_and_keeps_counts(world: World) -> None:
    notices = await _held(world, MeetingKind.INTRO)
    mentee_notice = next(n for n in notices if n.telegram_id == world.mentee.telegram_id)
    await _answer(world, mentee_notice, _intro(polls.GOOD_FIT))
    await privacy.forget(world.session, world.mentee, now=NOW, version=1)
    texts = (await world.session.execute(
        select(Answer.question_id).where(Answer.question_id == "comment"))).scalars().all()
    assert texts == []
    envelope = await world.session.get(SurveyResponse, mentee_notice.survey_response_id)
    assert envelope is not None and envelope.answers["fit"] == "good_fit"
    assert "comment" not in envelope.answers


def test_poll_files_load_and_stay_out_of_the_role_catalog() -> None:
    loaded = polls.default_polls()
    assert {p.milestone for p in loaded.values()} == {
        "intro", "fit-again", "planning", "final", "process"
    }
    for poll in loaded.values():
        for question in poll.questionnaire.questions:
            assert "en" in question.text and "en" in question.label
    merged = polls.with_polls(Catalog.from_dir())
    assert merged.get("poll-intro") is not None
    assert merged.for_role("mentee", "student-student") is not None
    assert not polls.is_poll(merged.for_role("mentee", "student-student").id)  # type: ignore[union-attr]


async def test_a_poll_of_an_ended_pair_is_not_chased(world: World) -> None:
    notices = await _held(world, MeetingKind.INTRO)
    await pairing.unpair(world.session, world.pair.id, org_ids=[world.org.id], actor_id=None,
                         now=NOW)
    assert await polls.due(world.session, NOW + dt.timedelta(days=2, minutes=1)) == []
    rows = (await world.session.execute(select(SurveyResponse))).scalars().all()
    assert len(rows) == len(notices) and all(r.closed_at is not None for r in rows)


@pytest.mark.parametrize("path", sorted(polls.POLLS_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_poll_file_schema(path: Path) -> None:
    """The questionnaire data checks, for polls: RU and EN, plain texts, the file named
    after the id, no forms; plus the milestone and the ids the bot acts on."""
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert path.name == f"{data['id']}.yaml" and data["id"].startswith("poll-")
    assert data["forms"] == [] and data["role"] in {"any", "mentee", "mentor"}
    assert data["milestone"] in set(polls.Milestone)
    _check_i18n(data["title"], f"{path.name}.title")
    if "intro" in data:
        _check_i18n(data["intro"], f"{path.name}.intro")
    earlier: dict[str, dict] = {}
    for i, question in enumerate(data["questions"]):
        _validate_question(question, f"{path.name}#{i}", earlier)
        earlier[question["id"]] = question
    if "fit" in earlier:
        assert data["questions"][-1]["id"] == "fit"  # the alert goes when the poll ends
        assert [o["id"] for o in earlier["fit"]["options"]] == ["good_fit", "not_sure", "not_fit"]
    if "satisfaction" in earlier:
        assert earlier["satisfaction"]["type"] == "scale"


def test_process_rounds_mid_june_december() -> None:
    start, end = dt.date(2026, 9, 1), dt.date(2027, 5, 31)  # the middle: 15 January
    rounds = process_polls.open_rounds
    assert [r.key for r in rounds(start, end, dt.date(2026, 12, 1))] == ["2026-12"]
    assert [r.key for r in rounds(start, end, dt.date(2026, 12, 15))] == []  # 14 days open
    assert [r.key for r in rounds(start, end, dt.date(2027, 1, 15))] == ["mid"]
    assert rounds(start, end, dt.date(2027, 6, 1)) == []  # after the end
    # a programme whose middle is near 1 June: one questionnaire, the middle one
    near = (dt.date(2027, 1, 1), dt.date(2027, 11, 1))  # the middle: 2 June
    assert rounds(*near, dt.date(2027, 6, 1)) == []
    assert [r.key for r in rounds(*near, dt.date(2027, 6, 2))] == ["mid"]
    assert [r.key for r in rounds(start, dt.date(2027, 12, 31), dt.date(2027, 5, 3))] == ["mid"]


async def test_process_round_asks_every_working_pair_once(world: World) -> None:
    world.pair.status = PairStatus.TRIAL
    other_mentee, other_m = await world.member("Ученица Анна", Role.MENTEE)
    late = await world.pair_of(world.mentor_m, other_m)
    late.decided_at = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)  # after the round began
    await world.session.flush()
    before = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)  # 09:00 in Moscow
    assert await process_polls.due(world.session, before) == []
    now = dt.datetime(2026, 12, 1, 7, 5, tzinfo=dt.UTC)  # 10:05 in Moscow
    notices = await process_polls.due(world.session, now)
    assert {(n.poll_id, n.telegram_id, n.pair_id) for n in notices} == {
        ("poll-process", world.mentee.telegram_id, world.pair.id),
        ("poll-process", world.mentor.telegram_id, world.pair.id),
    }
    assert await process_polls.due(world.session, now + dt.timedelta(days=3)) == []
    text, _ = render(notices[0])
    assert "Как идёт программа" in text


async def test_poll_buttons_refuse_strangers_forgers_and_non_curators(app) -> None:  # type: ignore[no-untyped-def]
    """Through the production dispatcher: a stranger's and a forged "answer" press, and a
    participant pressing the curator's "end the pair", change nothing."""
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        world = await World(session).setup()
        notices = await polls.ask_both(
            session, world.pair.id, world.mentee_m.id, world.mentor_m.id, "intro", NOW
        )
        await session.commit()
        mentee_notice = next(n for n in notices if n.telegram_id == world.mentee.telegram_id)
        ids = (world.mentee.telegram_id, world.stranger.telegram_id)
        pair_id = world.pair.id
    mentee, stranger = (fake.user(i or 0) for i in ids)
    invite = InlineKeyboardMarkup.model_validate(
        poll_kb.invitation(T, mentee_notice.survey_response_id))
    assert await _press(fake, bot, dp, stranger, invite, "📝 Ответить") == T(
        "errors.poll_not_yours")
    forged = InlineKeyboardMarkup.model_validate(poll_kb.invitation(T, MAX_ID))
    assert await _press(fake, bot, dp, mentee, forged, "📝 Ответить") == T("errors.poll_gone")
    alert = InlineKeyboardMarkup.model_validate(poll_kb.alert(T, pair_id, can_end=True))
    await _press(fake, bot, dp, mentee, alert, "🔚 Завершить пару и подобрать заново")
    async with database.sessionmaker() as session:
        assert (await session.get(Pair, pair_id)).status == PairStatus.APPROVED  # type: ignore[union-attr]
        envelope = await session.get(SurveyResponse, mentee_notice.survey_response_id)
        assert envelope is not None and envelope.response_id is None
    # the addressee opens it: the first question is shown
    assert await _press(fake, bot, dp, mentee, invite, "📝 Ответить") == ""
    await mentee.wait_message("Какое впечатление")
    async with database.sessionmaker() as session:
        envelope = await session.get(SurveyResponse, mentee_notice.survey_response_id)
        assert envelope is not None and envelope.response_id is not None
