"""Pairing: approving and rejecting proposals, capacity under parallel approvals, unpairing, preference rounds."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import pairing
from bot.services.errors import ServiceError
from bot.services.pairing import NoticeKind, PairWarning
from db.models import (
    AuditLog,
    Membership,
    MembershipStatus,
    Pair,
    PairEvent,
    PairStatus,
    Participant,
    Role,
)
from tests.backends import is_postgres
from tests.unit.test_pairing import (  # shared helpers and fixtures
    CATALOG,
    MENTEE_ANSWERS,
    MENTOR_ANSWERS,
    NOW,
    POOR_MENTOR,
    TT,
    World,
    _membership,
    _scope,
    _telegram,
    db,  # noqa: F401 - a pytest fixture, used by name
    world,  # noqa: F401 - a pytest fixture, used by name
)


async def test_approve_reject_and_already_decided(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    tee2 = await world.member("Козлов Кирилл", Role.MENTEE, MENTEE_ANSWERS)
    tor = await world.member("Петров Пётр", Role.MENTOR, MENTOR_ANSWERS, capacity=2)
    first = await world.proposal(tee, tor)
    second = await world.proposal(tee2, tor)

    result = await pairing.approve(
        world.session, first.id, org_ids=_scope(world), actor_id=world.curator.id, now=NOW
    )
    assert result.pair.status == PairStatus.APPROVED
    assert result.pair.decided_by == world.curator.id and result.pair.decided_at == NOW
    assert (await _membership(world.session, tor.id)).load == 1
    assert (await _membership(world.session, tor.id)).status == MembershipStatus.PAIRED
    assert (await _membership(world.session, tee.id)).status == MembershipStatus.PAIRED
    intro = {n.key: n for n in result.notices}
    assert set(intro) == {f"intro:{first.id}:mentee", f"intro:{first.id}:mentor"}
    assert intro[f"intro:{first.id}:mentee"].about is not None
    assert intro[f"intro:{first.id}:mentee"].about.name == "Петров Пётр"
    assert intro[f"intro:{first.id}:mentor"].about.answers["goal"] == "Хочу освоиться в колледже"

    for action in (pairing.approve, pairing.reject):
        with pytest.raises(ServiceError) as error:
            await action(world.session, first.id, org_ids=_scope(world),
                         actor_id=world.curator2.id, now=NOW)
        assert error.value.code == "pairing_already_approved"
        assert error.value.params["who"] == "Куратор Ольга"

    # buttons of a replaced proposal carry its run: a reused id does not match
    with pytest.raises(ServiceError) as error:
        await pairing.reject(world.session, second.id, org_ids=_scope(world),
                             actor_id=world.curator2.id, now=NOW, run_id="0123456789ab")
    assert error.value.code == "pairing_not_found"
    rejected = await pairing.reject(
        world.session, second.id, org_ids=_scope(world), actor_id=world.curator2.id, now=NOW,
        run_id="test",
    )
    assert rejected.status == PairStatus.REJECTED and rejected.decided_by == world.curator2.id
    with pytest.raises(ServiceError) as error:
        await pairing.approve(world.session, second.id, org_ids=_scope(world),
                              actor_id=world.curator.id, now=NOW)
    assert error.value.code == "pairing_already_rejected"
    assert error.value.params["who"] == "Куратор Пётр"
    assert (await _membership(world.session, tor.id)).load == 1

    events = (await world.session.execute(
        select(PairEvent).order_by(PairEvent.id)
    )).scalars().all()
    assert [(e.pair_id, e.from_status, e.to_status, e.actor_id) for e in events] == [
        (first.id, "proposed", "approved", world.curator.id),
        (second.id, "proposed", "rejected", world.curator2.id),
    ]
    actions = (await world.session.execute(
        select(AuditLog.action, AuditLog.target_id, AuditLog.details).order_by(AuditLog.id)
    )).all()
    assert [(a, t) for a, t, _ in actions] == [
        ("pair.approve", first.id), ("pair.reject", second.id)
    ]
    assert actions[0][2] == {"mentee": tee.id, "mentor": tor.id, "run": "test"}

    with pytest.raises(ServiceError) as error:
        await pairing.approve(world.session, first.id, org_ids=[world.org.id + 99],
                              actor_id=world.curator.id, now=NOW)
    assert error.value.code == "pairing_not_found"


async def test_approving_a_paused_mentee_is_refused(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    tor = await world.member("Петров Пётр", Role.MENTOR, MENTOR_ANSWERS)
    pair = await world.proposal(tee, tor)
    tee.status = MembershipStatus.PAUSED
    await world.session.flush()
    with pytest.raises(ServiceError) as error:
        await pairing.approve(world.session, pair.id, org_ids=_scope(world),
                              actor_id=world.curator.id, now=NOW)
    assert error.value.code == "pairing_unavailable"
    refreshed = await pairing.pair_card(world.session, pair.id, org_ids=_scope(world))
    assert refreshed.pair.status == PairStatus.PROPOSED and refreshed.mentor_load == 0


async def test_parallel_approvals_never_exceed_capacity(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db() as session:
        world = await World(session).setup()
        mentor = await world.member("Петров Пётр", Role.MENTOR, MENTOR_ANSWERS, capacity=2)
        mentees = [
            await world.member(f"Наставляемый {i}", Role.MENTEE, MENTEE_ANSWERS) for i in range(6)
        ]
        pair_ids = [(await world.proposal(m, mentor)).id for m in mentees]
        await session.commit()
        curators = [world.curator.id, world.curator2.id]
        org_ids, mentor_id = _scope(world), mentor.id

    # On PostgreSQL the approvals run truly in parallel: each holds a connection of its own
    # and an open transaction, and none starts approving before all have started (SQLite
    # has one connection, so there they queue for it, in turn).
    tasks = len(pair_ids) + 1
    barrier = asyncio.Barrier(tasks) if is_postgres() else None
    backends: set[int] = set()

    async def approve(pair_id: int, actor_id: int) -> str:
        async with db() as session:
            if barrier is not None:
                backends.add((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
                await asyncio.wait_for(barrier.wait(), 30)
            try:
                await pairing.approve(session, pair_id, org_ids=org_ids, actor_id=actor_id,
                                      now=NOW)
            except ServiceError as exc:
                await session.rollback()
                return exc.code
            await session.commit()
            return "ok"

    outcomes = await asyncio.gather(
        *(approve(pair_id, curators[i % 2]) for i, pair_id in enumerate(pair_ids)),
        approve(pair_ids[0], curators[1]),  # the same proposal twice at once
    )
    assert outcomes.count("ok") == 2
    if barrier is not None:
        assert len(backends) == tasks  # seven transactions at once, on seven connections
    assert set(outcomes) == {"ok", "pairing_mentor_full", "pairing_already_approved"} or set(
        outcomes
    ) == {"ok", "pairing_mentor_full"}
    async with db() as session:
        stored = await _membership(session, mentor_id)
        assert stored.load == 2 <= stored.capacity == 2
        statuses = (await session.execute(select(Pair.status))).scalars().all()
        assert statuses.count(PairStatus.APPROVED) == 2
        assert statuses.count(PairStatus.PROPOSED) == 4
        paired = (await session.execute(
            select(func.count(Membership.id)).where(
                Membership.role == Role.MENTEE, Membership.status == MembershipStatus.PAIRED
            )
        )).scalar_one()
        assert paired == 2


async def test_unpair_frees_the_place(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    tor = await world.member("Петров Пётр", Role.MENTOR, MENTOR_ANSWERS, capacity=1)
    pair = await world.proposal(tee, tor)
    await pairing.approve(world.session, pair.id, org_ids=_scope(world),
                          actor_id=world.curator.id, now=NOW)
    card = await pairing.active_card(world.session, pair.id, org_ids=_scope(world))
    assert card.mentor_load == 1

    result = await pairing.unpair(world.session, pair.id, org_ids=_scope(world),
                                  actor_id=world.curator2.id, now=NOW)
    assert result.pair.status == PairStatus.ENDED
    mentor = await _membership(world.session, tor.id)
    assert mentor.load == 0 and mentor.status == MembershipStatus.IN_BASE
    assert (await _membership(world.session, tee.id)).status == MembershipStatus.IN_BASE
    assert {n.key for n in result.notices} == {
        f"ended:{pair.id}:mentee", f"ended:{pair.id}:mentor"
    }
    last = (await world.session.execute(
        select(PairEvent).order_by(PairEvent.id.desc()).limit(1)
    )).scalar_one()
    assert (last.from_status, last.to_status, last.actor_id) == (
        "approved", "ended", world.curator2.id
    )
    with pytest.raises(ServiceError) as error:
        await pairing.unpair(world.session, pair.id, org_ids=_scope(world),
                             actor_id=world.curator.id, now=NOW)
    assert error.value.code == "pairing_not_active"

    # an ended couple is never proposed again
    run = await pairing.run_match(world.session, CATALOG, world.programme,
                                  actor_id=world.curator.id, now=NOW)
    assert run.proposals == [] and run.unmatched[0].reason == "rejected_before"


# -- manual pairs -----------------------------------------------------------------------------
async def test_manual_pair_warns_then_creates(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    poor = await world.member("Слабый Сергей", Role.MENTOR, POOR_MENTOR, capacity=1)
    kwargs: dict[str, Any] = {"org_ids": _scope(world), "actor_id": world.curator.id, "now": NOW}

    check = await pairing.manual_pair(world.session, CATALOG, tee.id, poor.id, **kwargs)
    assert check.pair is None and check.warnings == (PairWarning.LOW_SCORE,)
    assert check.score.value < 50
    assert (await world.session.execute(select(func.count(Pair.id)))).scalar_one() == 0

    done = await pairing.manual_pair(world.session, CATALOG, tee.id, poor.id, confirmed=True,
                                     **kwargs)
    assert done.pair is not None and done.pair.status == PairStatus.APPROVED
    assert done.pair.decided_by == world.curator.id and done.capacity_raised_to is None
    assert {n.kind for n in done.notices} == {NoticeKind.INTRO}
    assert (await _membership(world.session, poor.id)).load == 1

    with pytest.raises(ServiceError) as error:
        await pairing.manual_pair(world.session, CATALOG, tee.id, poor.id, **kwargs)
    assert error.value.code == "pairing_exists"


async def test_manual_pair_over_capacity_raises_it(world: World) -> None:
    busy = await world.member("Занятой", Role.MENTOR, MENTOR_ANSWERS, capacity=1, load=1,
                              status=MembershipStatus.PAIRED)
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    await world.proposal(tee, busy)
    kwargs: dict[str, Any] = {"org_ids": _scope(world), "actor_id": world.curator.id, "now": NOW}

    check = await pairing.manual_pair(world.session, CATALOG, tee.id, busy.id, **kwargs)
    assert check.warnings == (PairWarning.CAPACITY,) and check.pair is None
    done = await pairing.manual_pair(world.session, CATALOG, tee.id, busy.id, confirmed=True,
                                     **kwargs)
    assert done.pair is not None and done.capacity_raised_to == 2
    mentor = await _membership(world.session, busy.id)
    assert (mentor.load, mentor.capacity) == (2, 2)
    # the manual pair replaced the mentee's undecided proposal
    statuses = (await world.session.execute(select(Pair.status))).scalars().all()
    assert statuses == [PairStatus.APPROVED]
    raised = (await world.session.execute(
        select(AuditLog).where(AuditLog.action == "mentor.capacity_raise")
    )).scalar_one()
    assert (raised.target_id, raised.details) == (busy.id, {"capacity": 2})
    manual = (await world.session.execute(
        select(AuditLog).where(AuditLog.action == "pair.manual")
    )).scalar_one()
    assert manual.details == {"mentee": tee.id, "mentor": busy.id, "warnings": ["capacity"]}


async def test_manual_pair_checks_input(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    tor = await world.member("Петров Пётр", Role.MENTOR, MENTOR_ANSWERS)
    teacher = await world.member("Учитель", Role.MENTOR, {"competences": ["classroom"]}, form=TT)
    kwargs: dict[str, Any] = {"org_ids": _scope(world), "actor_id": world.curator.id, "now": NOW}

    check = await pairing.manual_pair(world.session, CATALOG, tee.id, teacher.id, **kwargs)
    assert PairWarning.FORM in check.warnings and not check.score.compatible
    for args, code in (
        ((tor.id, tee.id), "pairing_wrong_roles"),
        ((tee.id, 99999), "member_not_found"),
    ):
        with pytest.raises(ServiceError) as error:
            await pairing.manual_pair(world.session, CATALOG, *args, **kwargs)
        assert error.value.code == code
    with pytest.raises(ServiceError) as error:
        await pairing.manual_pair(world.session, CATALOG, tee.id, tor.id, org_ids=[],
                                  actor_id=None, now=NOW)
    assert error.value.code == "member_not_found"


# -- preference rounds ------------------------------------------------------------------------
async def test_preference_round_feeds_the_bonus(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    other = await world.member("Козлов Кирилл", Role.MENTEE, MENTEE_ANSWERS)
    strong = await world.member("Сильный", Role.MENTOR, MENTOR_ANSWERS, capacity=1)
    liked = await world.member(
        "Симпатичный", Role.MENTOR, {**MENTOR_ANSWERS, "times": ["weekend"]}, capacity=1
    )
    teacher = await world.member("Учитель", Role.MENTOR, {"competences": ["classroom"]}, form=TT)

    started = await pairing.start_round(world.session, CATALOG, world.programme,
                                        actor_id=world.curator.id, now=NOW)
    lists = {n.to.membership_id: [c.membership_id for c in n.candidates] for n in started.notices}
    assert lists[tee.id] == [strong.id, liked.id]  # best first, only the same form
    assert set(lists[strong.id]) == {tee.id, other.id} and teacher.id not in lists
    first = started.notices[0]
    assert first.key == f"prefs:{started.round.id}:{first.to.membership_id}"
    with pytest.raises(ServiceError) as error:
        await pairing.start_round(world.session, CATALOG, world.programme, actor_id=None, now=NOW)
    assert error.value.code == "pairing_round_open"

    round_id = started.round.id
    tg = {m.id: await _telegram(world, m) for m in (tee, other, strong, liked)}
    assert await pairing.toggle_pick(world.session, round_id, tee.id, liked.id,
                                     telegram_id=tg[tee.id]) == [liked.id]
    assert await pairing.toggle_pick(world.session, round_id, tee.id, strong.id,
                                     telegram_id=tg[tee.id]) == [liked.id, strong.id]
    assert await pairing.toggle_pick(world.session, round_id, tee.id, strong.id,
                                     telegram_id=tg[tee.id]) == [liked.id]
    await pairing.toggle_pick(world.session, round_id, liked.id, tee.id, telegram_id=tg[liked.id])
    for args, code in (
        ((tee.id, liked.id, tg[other.id]), "pairing_not_yours"),
        ((tee.id, other.id, tg[tee.id]), "pairing_not_candidate"),
        ((tee.id, teacher.id, tg[tee.id]), "pairing_not_candidate"),
    ):
        chooser, chosen, telegram_id = args
        with pytest.raises(ServiceError) as error:
            await pairing.toggle_pick(world.session, round_id, chooser, chosen,
                                      telegram_id=telegram_id)
        assert error.value.code == code
    picked = await pairing.picks(world.session, round_id, tee.id, telegram_id=tg[tee.id])
    assert [p.name for p in picked] == ["Симпатичный"]

    closed = await pairing.close_round(world.session, world.programme, actor_id=world.curator.id,
                                       now=NOW)
    assert (closed.choosers, closed.mutual) == (2, 1) and closed.round.closed_at == NOW
    with pytest.raises(ServiceError) as error:
        await pairing.toggle_pick(world.session, round_id, tee.id, strong.id,
                                  telegram_id=tg[tee.id])
    assert error.value.code == "pairing_round_closed"
    with pytest.raises(ServiceError) as error:
        await pairing.close_round(world.session, world.programme, actor_id=None, now=NOW)
    assert error.value.code == "pairing_no_open_round"

    # the mutual choice outweighs the better time overlap
    run = await pairing.run_match(world.session, CATALOG, world.programme,
                                  actor_id=world.curator.id, now=NOW)
    chosen = {p.mentee_membership_id: p for p in run.proposals}
    assert chosen[tee.id].mentor_membership_id == liked.id
    assert (chosen[tee.id].reasons or [])[0] == {"code": "mutual_choice", "items": []}
    actions = (await world.session.execute(select(AuditLog.action))).scalars().all()
    assert actions[:2] == ["preferences.start", "preferences.close"]


async def test_too_many_picks(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    mentors = [await world.member(f"Наставник {i}", Role.MENTOR, MENTOR_ANSWERS) for i in range(4)]
    started = await pairing.start_round(world.session, CATALOG, world.programme,
                                        actor_id=world.curator.id, now=NOW)
    person = await world.session.get(Participant, tee.participant_id)
    assert person is not None and person.telegram_id is not None
    for mentor in mentors[:3]:
        await pairing.toggle_pick(world.session, started.round.id, tee.id, mentor.id,
                                  telegram_id=person.telegram_id)
    with pytest.raises(ServiceError) as error:
        await pairing.toggle_pick(world.session, started.round.id, tee.id, mentors[3].id,
                                  telegram_id=person.telegram_id)
    assert (error.value.code, error.value.params) == ("pairing_too_many_picks", {"max": 3})


# -- contacts ---------------------------------------------------------------------------------
async def test_contacts_go_out_when_both_agree(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    tor = await world.member("Петров Пётр", Role.MENTOR, MENTOR_ANSWERS)
    pair = await world.proposal(tee, tor)
    await pairing.approve(world.session, pair.id, org_ids=_scope(world),
                          actor_id=world.curator.id, now=NOW)
    mentee_tg = await _telegram(world, tee)
    mentor = await world.session.get(Participant, tor.participant_id)
    assert mentee_tg is not None and mentor is not None and mentor.telegram_id is not None

    first = await pairing.share_contact(world.session, pair.id, telegram_id=mentee_tg, now=NOW)
    assert not first.both and first.notices == []
    repeat = await pairing.share_contact(world.session, pair.id, telegram_id=mentee_tg, now=NOW)
    assert not repeat.both
    with pytest.raises(ServiceError) as error:
        await pairing.share_contact(world.session, pair.id, telegram_id=1, now=NOW)
    assert error.value.code == "pairing_not_yours"

    both = await pairing.share_contact(world.session, pair.id, telegram_id=mentor.telegram_id,
                                       now=NOW)
    assert both.both
    sent = {n.key: n for n in both.notices}
    assert set(sent) == {f"contacts:{pair.id}:mentee", f"contacts:{pair.id}:mentor"}
    about = sent[f"contacts:{pair.id}:mentee"].about
    assert about is not None and about.username == mentor.tg_username
    assert mentor.share_contacts
    shared = (await world.session.execute(
        select(PairEvent.actor_id).where(PairEvent.to_status == pairing.CONTACT_SHARED)
    )).scalars().all()
    assert sorted(shared) == sorted([tee.participant_id, tor.participant_id])
