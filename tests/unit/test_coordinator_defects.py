"""Coordinator QA defects, fast: ids, consent wording, curator links and confirmation, menus,
/orgs that creates nothing and pages, commands that say whom they are for."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import Update
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Database, create_bot, create_dispatcher
from bot.commands import commands_for
from bot.config import Settings, load_settings
from bot.i18n import translator
from bot.ids import parse_id
from bot.roles import CuratorAccess, curator_access, roles_of
from bot.services import curator_access as access
from bot.services import onboarding
from bot.services import organisations as orgs
from bot.services.consent import load_document
from bot.services.errors import ServiceError
from db.migrate import upgrade_to_head
from db.models import Invite, InviteKind, Organisation, Participant, Role
from db.queries import participants as q_people
from handlers.common import help_text
from tests.backends import url_for
from tests.fakeapi import FakeTelegram

ADMIN = 9201
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


# -- 7: ids ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", 12), (" #7 ", 7), (str(2**63 - 1), 2**63 - 1), (str(2**63), None),
     ("99999999999999999999", None), ("0", None), ("-3", None), ("1e3", None), ("", None),
     (None, None), ("١٢", None), ("12 13", None)],
)
def test_parse_id(text: str | None, expected: int | None) -> None:
    assert parse_id(text) == expected


# -- 2: the operator's name reads correctly whatever it is ---------------------------------
def test_consent_names_the_operator_in_apposition() -> None:
    document = load_document()
    ru = document.text("self", "ru", "Школа № 5")
    assert "даю согласие оператору — «Школа № 5» — на обработку" in ru
    assert "согласие Школа" not in ru
    assert "оператору — «Школа № 5» — на обработку" in document.text("guardian", "ru", "Школа № 5")
    assert "to the operator, “School 5”, to process" in document.text("self", "en", "School 5")


def test_curator_terms_are_their_own_text() -> None:
    document = load_document()
    for language in ("ru", "en"):
        text = document.text("curator", language, "Школа № 5")
        assert "участник программы наставничества" not in text
        assert "/forget" in text and "«Школа № 5»" in text or "“Школа № 5”" in text
    ru = document.text("curator", "ru", "Школа № 5")
    assert "куратор" in ru and "конфиденциальност" in ru and "не разглашать" in ru


# -- 5: menus and help lead with the highest role -------------------------------------------
def test_coordinator_menu_and_help() -> None:
    menu = commands_for(frozenset({Role.COORDINATOR}))
    assert menu[:2] == ("neworg", "orgs") and "forget" not in menu and "me" not in menu
    assert "mentees" in menu
    text = help_text(frozenset({Role.COORDINATOR}), translator("ru"))
    assert text.startswith("<b>Координатору</b>")
    assert "/forget" not in text and "/me " not in text
    mentee = help_text(frozenset({Role.MENTEE}), translator("ru"))
    assert "/me" in mentee and "/forget" in mentee and "/neworg" not in mentee
    assert commands_for(frozenset()) == ("start", "help", "cancel")


# -- services on a real database ------------------------------------------------------------
@pytest_asyncio.fixture
async def session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    url = url_for(tmp_path / "svc.db")
    await asyncio.to_thread(upgrade_to_head, url)
    database = Database.from_url(url)
    async with database.sessionmaker() as s:
        yield s
    await database.close()


async def _person(session: AsyncSession, telegram_id: int, **fields: object) -> Participant:
    person = await q_people.get_or_create(session, telegram_id, "ru")
    for key, value in fields.items():
        setattr(person, key, value)
    await session.flush()
    return person


async def test_curator_invitation_is_single_use_and_short(session: AsyncSession) -> None:
    org = await orgs.create_organisation(session, "Школа № 5", "Europe/Moscow")
    for ttl, uses in ((30, None), (None, None), (3650, 100)):
        invite = await orgs.create_invite(
            session, kind=InviteKind.CURATOR, now=NOW, ttl_days=ttl, organisation_id=org.id,
            max_uses=uses,
        )
        assert invite.max_uses is not None and invite.max_uses <= orgs.CURATOR_MAX_USES
        assert invite.expires_at is not None
        assert invite.expires_at - NOW <= dt.timedelta(days=orgs.CURATOR_TTL_DAYS)
    made = await orgs.curator_invite(session, org.id, now=NOW, actor_id=None)
    assert made.max_uses == 1 and made.expires_at == NOW + dt.timedelta(days=7)
    # numbered and revocable; an absurd number is a clear "not found", not an OverflowError
    await orgs.revoke_invite(session, made.id, now=NOW, actor_id=None)
    with pytest.raises(ServiceError, match="invite_revoked"):
        orgs.check_usable(made, NOW)
    for absurd in (0, 2**63, 10**20):
        with pytest.raises(ServiceError, match="invite_not_found"):
            await orgs.revoke_invite(session, absurd, now=NOW, actor_id=None)
    with pytest.raises(ServiceError, match="org_not_found"):
        await orgs.curator_invite(session, 10**20, now=NOW, actor_id=None)


async def test_curator_access_needs_terms_and_the_inviters_confirmation(
    session: AsyncSession,
) -> None:
    org = await orgs.create_organisation(session, "Школа № 5", "Europe/Moscow")
    inviter = await _person(session, 501)
    other_coordinator = await _person(session, 502, is_coordinator=True)
    invite = await orgs.curator_invite(session, org.id, now=NOW, actor_id=inviter.id)
    joined = await onboarding.join(session, telegram_id=503, language="ru", code=invite.code,
                                   now=NOW, consent_version=1)
    membership = joined.membership
    curator = await q_people.by_telegram_id(session, 503)
    assert curator is not None
    assert curator_access(membership) == CuratorAccess.TERMS
    assert Role.CURATOR not in roles_of(curator, 503, frozenset())
    with pytest.raises(ServiceError, match="invite_used"):  # single use
        await onboarding.join(session, telegram_id=504, language="ru", code=invite.code, now=NOW, consent_version=1)
    with pytest.raises(ServiceError, match="curator_terms_pending"):
        await access.decide(session, membership.id, actor=inviter, actor_is_coordinator=True,
                            approve=True, now=NOW)

    await access.accept_terms(session, membership, first_name="Ксения", username="ks",
                              version=load_document().version)
    assert curator_access(membership) == CuratorAccess.AWAITING
    assert Role.CURATOR not in roles_of(curator, 503, frozenset())
    assert await q_people.curator_org_ids(session, curator.id) == []
    approvers = await access.approvers(session, membership, frozenset({ADMIN}))
    assert [a.telegram_id for a in approvers] == [501]  # the inviter only

    # only the inviter may confirm, and only while still a coordinator or curator there
    for actor, is_coordinator in ((other_coordinator, True), (curator, False), (inviter, False)):
        with pytest.raises(ServiceError, match="curator_confirm_denied"):
            await access.decide(session, membership.id, actor=actor,
                                actor_is_coordinator=is_coordinator, approve=True, now=NOW)
    _, decision = await access.decide(session, membership.id, actor=inviter,
                                      actor_is_coordinator=True, approve=True, now=NOW)
    assert decision == access.Decision.CONFIRMED
    _, again = await access.decide(session, membership.id, actor=inviter,
                                   actor_is_coordinator=True, approve=False, now=NOW)
    assert again == access.Decision.ALREADY_CONFIRMED  # a repeated press changes nothing
    assert Role.CURATOR in roles_of(curator, 503, frozenset())
    assert await q_people.curator_org_ids(session, curator.id) == [org.id]
    with pytest.raises(ServiceError, match="curator_request_not_found"):
        await access.decide(session, 10**20, actor=inviter, actor_is_coordinator=True,
                            approve=True, now=NOW)


async def test_admin_cli_links_are_confirmed_by_any_coordinator(session: AsyncSession) -> None:
    org = await orgs.create_organisation(session, "Школа № 5", "Europe/Moscow")
    await _person(session, 611, is_coordinator=True)
    invite = await orgs.curator_invite(session, org.id, now=NOW, actor_id=None)
    joined = await onboarding.join(session, telegram_id=612, language="ru", code=invite.code,
                                   now=NOW, consent_version=1)
    await access.accept_terms(session, joined.membership, first_name="A", username=None,
                              version=load_document().version)
    approvers = await access.approvers(session, joined.membership, frozenset({ADMIN}))
    assert {a.telegram_id for a in approvers} == {ADMIN, 611}
    with pytest.raises(ServiceError, match="curator_confirm_denied"):
        await access.decide(session, joined.membership.id, actor=None,
                            actor_is_coordinator=False, approve=True, now=NOW)
    _, decision = await access.decide(session, joined.membership.id, actor=None,
                                      actor_is_coordinator=True, approve=False, now=NOW)
    assert decision == access.Decision.REJECTED


def test_past_dates_are_flagged() -> None:
    today = dt.date(2026, 11, 23)
    assert orgs.past_dates(dt.date(2019, 1, 1), dt.date(2020, 1, 1), today) == [
        dt.date(2019, 1, 1), dt.date(2020, 1, 1)]
    assert orgs.past_dates(dt.date(2026, 9, 1), dt.date(2027, 5, 31), today) == []
    assert orgs.past_dates(dt.date(2024, 9, 1), dt.date(2027, 5, 31), today) == [
        dt.date(2024, 9, 1)]


# -- the production dispatcher in process ---------------------------------------------------
@pytest_asyncio.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, Bot, object, Database]]:
    fake = FakeTelegram()
    await fake.start()
    url = url_for(tmp_path / "unit.db")
    await asyncio.to_thread(upgrade_to_head, url)
    settings = load_settings(
        Settings, bot_token=fake.token, telegram_api_base=fake.base_url, database_url=url,
        admin_ids=str(ADMIN),
    )
    database = Database.from_url(url)
    bot = create_bot(settings)
    dp = create_dispatcher(settings, database, storage=MemoryStorage())
    await bot.me()  # as at start-up: a "/cmd@bot" filter then needs no request mid-update
    dp["bot_username"] = "nastavnik_test_bot"
    try:
        yield fake, bot, dp, database
    finally:
        await bot.session.close()
        await database.close()
        await fake.stop()


async def _say(  # type: ignore[no-untyped-def]
    fake: FakeTelegram, bot: Bot, dp, user_id: int, text: str
) -> str:
    user = fake.user(user_id)
    await user.send(text)
    raw = fake.pending_updates[-1]
    await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))
    return (await user.wait_message(timeout=5)).text


async def _count(database: Database, model: type) -> int:
    async with database.sessionmaker() as s:
        return int((await s.execute(select(func.count(model.id)))).scalar_one())


async def test_orgs_lists_without_creating_and_pages(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp, database = app
    async with database.sessionmaker() as s:
        for i in range(orgs.ORGS_PAGE_SIZE * 3 + 1):
            name = f"Муниципальная общеобразовательная школа № {i + 1} " + "x" * 140
            s.add(Organisation(name=name, timezone="Europe/Moscow"))
        await s.commit()
    for _ in range(2):
        text = await _say(fake, bot, dp, ADMIN, "/orgs")
        assert "стр. 1/4" in text and "start=" not in text and len(text) <= 4096
    assert await _count(database, Invite) == 0
    assert "стр. 4/4" in await _say(fake, bot, dp, ADMIN, "/orgs 4")
    assert "Такой страницы нет" in await _say(fake, bot, dp, ADMIN, "/orgs 5")
    huge = "99999999999999999999"
    assert "целым положительным" in await _say(fake, bot, dp, ADMIN, f"/orgs {huge}")
    assert "/curatorinvite 3" in await _say(fake, bot, dp, ADMIN, f"/curatorinvite {huge}")
    assert "не номер" in await _say(fake, bot, dp, ADMIN, f"/revoke {huge}")
    made = await _say(fake, bot, dp, ADMIN, "/curatorinvite 2")
    assert "№ 1" in made and "одноразовое" in made and "start=" in made
    assert await _count(database, Invite) == 1


async def test_commands_say_whom_they_are_for(app) -> None:  # type: ignore[no-untyped-def]
    fake, bot, dp, _ = app
    assert "только кураторам" in await _say(fake, bot, dp, 9301, "/match")
    assert "только кураторам" in await _say(fake, bot, dp, 9301, "/mentees@nastavnik_test_bot")
    assert "только координаторам" in await _say(fake, bot, dp, 9301, "/orgs")
    assert "Не знаю такой команды" in await _say(fake, bot, dp, 9301, "/nosuch")
    first = await _say(fake, bot, dp, ADMIN, "/start")
    assert "С возвращением" not in first and "координатор" in first
    menu = [c["command"] for c in fake.commands_for(ADMIN)]
    assert menu[:2] == ["neworg", "orgs"] and "forget" not in menu
