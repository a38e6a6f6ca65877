"""Closing the cycle: the invitations after the final meeting (once), /complete's rules and
its audited override, entry vs exit, the attachments' limits, and /forget erasing the
report texts, the attachment rows and their files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.ids import MAX_ID
from bot.services import answering, attachments, closing
from bot.services.attachments import Incoming
from bot.services.errors import NotYoursError, ServiceError
from bot.services.privacy import forget
from bot.services.questionnaires import DATA_DIR
from db.models import (
    Answer,
    Attachment,
    AuditLog,
    MeetingKind,
    MeetingStatus,
    Membership,
    MembershipStatus,
    OutboxMessage,
    Pair,
    PairStatus,
    QuestionnaireResponse,
    ResponseStatus,
    Role,
)
from db.queries import closing as q
from keyboards import closing as close_kb
from keyboards.closing import CloseAction
from tests.unit.journal_world import (  # noqa: F401 - fixtures used by name
    NOW,
    World,
    db,
    world,
)
from tests.unit.test_journal_dispatch import T, _press, app  # noqa: F401 - the app fixture

CATALOG = closing.full_catalog(DATA_DIR)


async def _curator(world: World) -> Membership:
    _, curator = await world.member("Куратор Ольга", Role.CURATOR)
    curator.confirmed_at = NOW
    curator.status = MembershipStatus.IN_BASE
    await world.session.flush()
    return curator


async def _response(
    world: World, membership: Membership, questionnaire_id: str, stage: str,
    answers: dict[str, object], *, done: bool = True,
) -> QuestionnaireResponse:
    response = QuestionnaireResponse(
        membership_id=membership.id, questionnaire_id=questionnaire_id,
        questionnaire_version=1, stage=stage,
        status=ResponseStatus.DONE if done else ResponseStatus.IN_PROGRESS,
        answers=[Answer(question_id=k, value=v, is_personal=isinstance(v, str))
                 for k, v in answers.items()],
    )
    world.session.add(response)
    await world.session.flush()
    return response


async def _reports(world: World) -> None:
    stage = closing.report_stage(world.pair.id)
    await _response(world, world.mentee_m, "report-mentee", stage, {"achieved": "secret-win"})
    await _response(world, world.mentor_m, "report-mentor", stage, {"reflection": "mine"})


def test_catalog_has_the_reports_and_roles_still_find_their_questionnaires() -> None:
    assert {"report-mentee", "report-mentor", "review-curator", "monitoring-curator"} <= {
        q.id for q in CATALOG}
    assert CATALOG.for_role("mentee", "student-student").id == "mentee-student-student"
    assert closing.pair_of_stage("final:12") == 12 and closing.pair_of_stage("review:3") == 3
    assert closing.is_closing_stage("exit") and not closing.is_closing_stage("entry")
    assert closing.is_closing_stage("monitor:4") and closing.pair_of_stage("monitor:4") is None


async def test_invitations_once_and_only_after_final(world: World) -> None:
    curator = await _curator(world)
    await closing.on_final(world.session, world.pair.id, NOW)
    assert (await world.session.execute(select(OutboxMessage))).first() is None  # approved
    world.pair.status = PairStatus.FINAL
    for _ in range(2):
        await closing.on_final(world.session, world.pair.id, NOW)
    keys = set((await world.session.execute(select(OutboxMessage.idempotency_key))).scalars())
    pair, mentee, mentor = world.pair.id, world.mentee_m.id, world.mentor_m.id
    assert keys == {
        f"close:exit:{mentee}", f"close:exit:{mentor}", f"close:report:{mentee}:{pair}",
        f"close:report:{mentor}:{pair}", f"close:review:{curator.id}:{pair}",
    }


async def test_complete_needs_the_final_meeting_and_both_reports(world: World) -> None:
    world.pair.status = PairStatus.FINAL
    org = world.org.id
    state = await closing.readiness(world.session, world.pair)
    assert state.missing == list(closing.Missing)
    with pytest.raises(ServiceError) as refused:
        await closing.complete(world.session, world.pair.id, actor_id=None,
                               organisation_id=org, now=NOW)
    assert refused.value.code == "closing_not_ready"
    await world.meeting(MeetingKind.FINAL, status=MeetingStatus.HELD)
    await _response(world, world.mentee_m, "report-mentee",
                    closing.report_stage(world.pair.id), {"achieved": "x"}, done=False)
    state = await closing.readiness(world.session, world.pair)
    assert state.missing == [closing.Missing.MENTEE_REPORT, closing.Missing.MENTOR_REPORT]
    (await q.response(world.session, world.mentee_m.id, "report-mentee",
                      closing.report_stage(world.pair.id))).status = ResponseStatus.DONE  # type: ignore[union-attr]
    await _response(world, world.mentor_m, "report-mentor",
                    closing.report_stage(world.pair.id), {"reflection": "y"})
    done = await closing.complete(world.session, world.pair.id, actor_id=world.mentor.id,
                                  organisation_id=org, now=NOW)
    assert done.outcome == closing.Outcome.COMPLETED
    assert world.pair.status == PairStatus.COMPLETED
    for member in (world.mentee_m, world.mentor_m):
        await world.session.refresh(member)
        assert member.full_cycle_at == NOW
    again = await closing.complete(world.session, world.pair.id, actor_id=None,
                                   organisation_id=org, now=NOW + dt.timedelta(days=1))
    assert again.outcome == closing.Outcome.ALREADY
    assert world.mentee_m.full_cycle_at == NOW
    actions = list((await world.session.execute(select(AuditLog.action))).scalars())
    assert actions == ["pair.complete"]
    # a second pair of the same mentee: still one person "involved"
    _, other_mentor = await world.member("Наставник Второй", Role.MENTOR)
    other = await world.pair_of(other_mentor, world.mentee_m)
    await closing.complete(world.session, other.id, actor_id=None, organisation_id=org,
                           now=NOW, reason="Пара завершена досрочно")
    assert await q.involved_count(world.session, org) == 3  # two mentors, one mentee


async def test_override_is_audited_with_its_reason(world: World) -> None:
    done = await closing.complete(world.session, world.pair.id, actor_id=world.mentor.id,
                                  organisation_id=world.org.id, now=NOW, reason="  Переезд  ")
    assert done.outcome == closing.Outcome.OVERRIDDEN
    entry = (await world.session.execute(select(AuditLog))).scalar_one()
    assert entry.action == q.OVERRIDE_ACTION and entry.target_id == world.pair.id
    assert entry.details == {"missing": [m.value for m in closing.Missing], "reason": "Переезд"}
    world.pair.status = PairStatus.ENDED
    with pytest.raises(ServiceError):
        await closing.complete(world.session, world.pair.id, actor_id=None,
                               organisation_id=world.org.id, now=NOW, reason="x")


async def test_only_the_pairs_sides_fill_its_reports(world: World) -> None:
    found = await closing.own_membership(world.session, world.pair, world.mentee.id)
    assert found.id == world.mentee_m.id
    with pytest.raises(NotYoursError):
        await closing.own_membership(world.session, world.pair, world.stranger.id)
    with pytest.raises(NotYoursError):
        await closing.curator_membership(world.session, world.org.id, world.mentor.id)


async def test_entry_versus_exit(world: World) -> None:
    scales = [q.id for q in CATALOG.assessment().questions]
    await _response(world, world.mentee_m, "assessment", answering.ENTRY,
                    {s: 5 for s in scales})
    await _response(world, world.mentee_m, "assessment", answering.EXIT,
                    {s: 5 + i - 2 for i, s in enumerate(scales[:-1])})
    changes = await closing.assessment_change(world.session, CATALOG, world.mentee_m.id)
    assert [c.delta for c in changes] == [-2, -1, 0, 1, 2, None]
    assert changes[0].entry == 5 and changes[0].exit == 3


async def test_attachment_limits(world: World) -> None:
    response = await _response(world, world.mentee_m, "report-mentee",
                               closing.report_stage(world.pair.id), {"achieved": "a"})
    pdf = Incoming("document", "f1", "u1", 1000, "cv.pdf", "application/pdf")
    await attachments.check(world.session, response.id, pdf)
    for bad, code in (
        (Incoming("document", "f", "u", 10, "a.exe", "application/x-msdownload"), "attach_type"),
        (Incoming("document", "f", "u", attachments.MAX_BYTES + 1, "a.pdf", "application/pdf"),
         "attach_too_big"),
    ):
        with pytest.raises(ServiceError) as refused:
            await attachments.check(world.session, response.id, bad)
        assert refused.value.code == code
    assert attachments.allowed_type(Incoming("document", "f", "u", 1, "scan.jpg", None))
    assert attachments.allowed_type(Incoming("photo", "f", "u", 1))
    for i in range(attachments.MAX_FILES):
        attachments.add(world.session, response, world.pair.id,
                        Incoming("photo", f"f{i}", f"p{i}", 10), key=f"k{i}", size=10)
    await world.session.flush()
    for incoming, code in ((Incoming("photo", "f", "p0", 10), "attach_too_many"),):
        with pytest.raises(ServiceError) as refused:
            await attachments.check(world.session, response.id, incoming)
        assert refused.value.code == code


async def test_forget_erases_report_texts_attachments_and_files(
    world: World, tmp_path: Path
) -> None:
    await _reports(world)
    response = await q.response(world.session, world.mentee_m.id, "report-mentee",
                                closing.report_stage(world.pair.id))
    assert response is not None
    key = attachments.new_key()
    attachments.prepare(tmp_path, key).write_bytes(b"%PDF-1.4")
    attachments.add(world.session, response, world.pair.id,
                    Incoming("document", "f", "u", 8, "secret-diploma.pdf", "application/pdf"),
                    key=key, size=8)
    await world.session.flush()
    result = await forget(world.session, world.mentee, now=NOW, version=1)
    assert result.files == [key]
    assert attachments.remove_files(tmp_path, result.files) == 1
    assert not attachments.path_of(tmp_path, key).exists()
    assert (await world.session.execute(select(Attachment))).first() is None
    left = list((await world.session.execute(select(Answer.value))).scalars())
    assert "secret-win" not in left and "mine" not in left  # the mentor wrote of the pair


async def test_strangers_and_early_presses_change_nothing(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        w = await World(session).setup()
        await session.commit()
        ids = (w.mentee.telegram_id, w.stranger.telegram_id)
        pair_id, mentee_m = w.pair.id, w.mentee_m.id
    mentee, stranger = (fake.user(i or 0) for i in ids)
    report = close_kb.start(T, CloseAction.REPORT, pair_id)
    # the pair has not had its final meeting yet
    answer = await _press(fake, bot, dp, mentee, report, "📝 Заполнить отчет")
    assert answer == T("errors.closing_not_final")
    async with database.sessionmaker() as session:
        (await session.get(Pair, pair_id)).status = PairStatus.FINAL  # type: ignore[union-attr]
        await session.commit()
    for button, markup in (
        ("📝 Заполнить отчет", report),
        ("📊 Пройти самооценку", close_kb.start(T, CloseAction.EXIT, mentee_m)),
        ("📋 Оставить отзыв", close_kb.start(T, CloseAction.REVIEW, pair_id)),
        ("⚠️ Завершить всё равно", close_kb.override(T, pair_id)),
    ):
        answer = await _press(fake, bot, dp, stranger, markup, button)
        assert answer == T("errors.closing_not_yours"), button
    answer = await _press(fake, bot, dp, mentee, close_kb.start(T, CloseAction.REPORT, MAX_ID),
                          "📝 Заполнить отчет")
    assert answer == T("errors.closing_stale")
    async with database.sessionmaker() as session:
        assert (await session.execute(select(QuestionnaireResponse))).first() is None
        assert (await session.get(Pair, pair_id)).status == PairStatus.FINAL  # type: ignore[union-attr]
