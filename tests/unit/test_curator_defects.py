"""Services behind the curator defects: ids, unreachable people, pair errors, numbering,
/forget notices, paper consent once, page clamping, score formatting."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.i18n import translator
from bot.ids import MAX_ID, first_invalid, parse_id, parse_ids
from bot.services import pairing, people, privacy
from bot.services.errors import ServiceError
from bot.services.pairing import PairWarning
from bot.views.matching import manual_warning, score_text
from bot.views.profile import tell_partners
from db.models import (
    Consent,
    ConsentDecision,
    ConsentKind,
    Membership,
    MembershipStatus,
    OutboxMessage,
    PairStatus,
    Participant,
    ParticipantStatus,
    Role,
)
from db.queries import participants as q_people
from keyboards import matching as kb
from tests.unit.test_pairing import (  # noqa: F401 (fixtures)
    CATALOG,
    MENTEE_ANSWERS,
    MENTOR_ANSWERS,
    NOW,
    POOR_MENTOR,
    TT,
    World,
    _scope,
    db,
    world,
)


def test_parse_id_accepts_only_database_ids() -> None:
    assert parse_id("12") == 12 and parse_id(" #12 ") == 12
    assert parse_id(str(MAX_ID)) == MAX_ID
    for bad in ("", "0", "-5", "1.5", "²", "١٢", "99999999999999999999", str(MAX_ID + 1), "#"):
        assert parse_id(bad) is None, bad
    assert parse_ids("12, #34", 2) == [12, 34] and parse_ids("12 x", 2) is None
    assert first_invalid("12 99999999999999999999") == "99999999999999999999"
    assert not kb.sane(kb.ProposalCb(a="ok", p=-1)) and not kb.sane(kb.ShareCb(p=MAX_ID + 1))
    assert kb.sane(kb.PickCb(r=1, m=2, c=0))


def test_scores_use_the_languages_decimal_separator() -> None:
    assert score_text(translator("ru"), 52.5) == "52,5"
    assert score_text(translator("en"), 52.5) == "52.5"
    assert score_text(translator("ru"), 80.0) == "80"


async def test_unreachable_people_are_listed_and_can_be_paired(world: World) -> None:
    tee = await world.member("Недоступна", Role.MENTEE, MENTEE_ANSWERS)
    tor = await world.member("Наставник", Role.MENTOR, MENTOR_ANSWERS, capacity=2)
    away_tor = await world.member("Тоже недоступен", Role.MENTOR, MENTOR_ANSWERS)
    for member in (tee, away_tor):
        person = await world.session.get(Participant, member.participant_id)
        assert person is not None
        person.status = ParticipantStatus.UNREACHABLE
    await world.session.flush()

    run = await pairing.run_match(
        world.session, CATALOG, world.programme, actor_id=world.curator.id, now=NOW
    )
    assert run.proposals == []
    assert [(u.person.membership_id, u.reason) for u in run.unmatched] == [
        (tee.id, "unreachable")
    ]
    assert [p.membership_id for p in run.unreachable_mentors] == [away_tor.id]

    result = await pairing.manual_pair(
        world.session, CATALOG, tee.id, tor.id, org_ids=_scope(world),
        actor_id=world.curator.id, now=NOW,
    )
    assert result.pair is None and result.warnings == (PairWarning.UNREACHABLE,)
    result = await pairing.manual_pair(
        world.session, CATALOG, tee.id, tor.id, org_ids=_scope(world),
        actor_id=world.curator.id, now=NOW, confirmed=True,
    )
    assert result.pair is not None
    assert {n.to.membership_id: n.to.reachable for n in result.notices} == {
        tee.id: False, tor.id: True
    }

    person = await world.session.get(Participant, tee.participant_id)
    assert person is not None and person.telegram_id is not None
    who = await q_people.who(world.session, person.telegram_id)
    assert who is not None and who.person.status == ParticipantStatus.UNREACHABLE
    assert await q_people.mark_reachable(world.session, who.person) is True
    await world.session.refresh(person)
    assert person.status == ParticipantStatus.ACTIVE
    again = await q_people.who(world.session, person.telegram_id)
    assert again is not None
    assert await q_people.mark_reachable(world.session, again.person) is False


async def test_pair_errors_name_nobody_by_a_hidden_number(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    tor = await world.member("Петров Пётр", Role.MENTOR, MENTOR_ANSWERS)
    pair = await world.proposal(tee, tor)
    world.curator.full_name = None
    await world.session.flush()
    await pairing.reject(world.session, pair.id, org_ids=_scope(world),
                         actor_id=world.curator.id, now=NOW)
    with pytest.raises(ServiceError) as error:
        await pairing.approve(world.session, pair.id, org_ids=_scope(world),
                              actor_id=world.curator2.id, now=NOW)
    assert error.value.code == "pairing_already_rejected_anon"
    assert "#" + str(world.curator.id) not in translator("ru")(
        error.value.text_key(), **error.value.params
    ).replace(f"#{pair.id}", "")

    with pytest.raises(ServiceError) as error:
        await pairing.active_card(world.session, 999, org_ids=_scope(world))
    assert error.value.code == "pairing_no_such"
    assert "заменил" not in translator("ru")("errors.pairing_no_such", id=999)


async def test_a_form_warning_is_not_repeated_as_a_reason(world: World) -> None:
    tee = await world.member("Учитель", Role.MENTEE, {"needs": ["classroom"]}, form=TT)
    tor = await world.member("Наставник", Role.MENTOR, POOR_MENTOR)
    result = await pairing.manual_pair(
        world.session, CATALOG, tee.id, tor.id, org_ids=_scope(world),
        actor_id=world.curator.id, now=NOW,
    )
    assert PairWarning.FORM in result.warnings
    text = manual_warning(translator("ru"), CATALOG, result).lower()
    assert text.count("формы наставничества") == 1


async def test_forget_tells_the_other_side_and_numbers_by_membership(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    tor = await world.member("Петров Пётр", Role.MENTOR, MENTOR_ANSWERS)
    pair = await world.proposal(tee, tor)
    pair.status = PairStatus.APPROVED
    await world.session.flush()
    mentor = await world.session.get(Participant, tor.participant_id)
    mentee = await world.session.get(Participant, tee.participant_id)
    assert mentor is not None and mentee is not None
    result = await privacy.forget(world.session, mentor, now=NOW, version=1)
    await tell_partners(world.session, result, now=NOW)
    assert result.numbers(world.org.id) == str(tor.id)
    messages = (await world.session.execute(select(OutboxMessage))).scalars().all()
    assert [(m.chat_id, m.payload["text"]) for m in messages] == [
        (mentee.telegram_id, translator("ru")("forget.partner_notice"))
    ]
    assert "Петров" not in messages[0].payload["text"]


async def test_paper_consent_only_for_pending_mentees_and_mentors_once(world: World) -> None:
    tee = await world.member("Иванов Иван", Role.MENTEE, {},
                             status=MembershipStatus.CONSENT_PENDING)
    with pytest.raises(ServiceError) as error:
        await people.paper_consent_target(world.session, tee.id, [world.org.id + 1], 1)
    assert error.value.code == "member_not_found"
    curator_id = (await world.session.execute(
        select(Membership.id).where(Membership.participant_id == world.curator.id)
    )).scalar_one()
    with pytest.raises(ServiceError) as error:
        await people.paper_consent_target(world.session, curator_id, _scope(world), 1)
    assert error.value.code == "member_not_found"
    assert (await people.paper_consent_target(world.session, tee.id, _scope(world), 1)).id == tee.id
    world.session.add(Consent(
        participant_id=tee.participant_id, organisation_id=world.org.id, membership_id=tee.id,
        kind=ConsentKind.PAPER, decision=ConsentDecision.ACCEPTED, version=1,
    ))
    await world.session.flush()
    with pytest.raises(ServiceError) as error:
        await people.paper_consent_target(world.session, tee.id, _scope(world), 1)
    assert error.value.code == "paper_consent_recorded"


async def test_pages_are_clamped(world: World) -> None:
    await world.member("Иванов Иван", Role.MENTEE, MENTEE_ANSWERS)
    for asked in (-5, 999, MAX_ID):
        rows, pages, shown = await people.page(world.session, world.programme.id, Role.MENTEE,
                                               asked)
        assert (len(rows), pages, shown) == (1, 1, 0)

