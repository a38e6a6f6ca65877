"""/charts: the numbers behind each chart on the seeded dataset (tests/unit/test_swot_top.py),
computed by hand; the photos sent through the production dispatcher (valid PNGs, 1200 px
wide, one per chart); an empty organisation gets a short message; drawing runs in a worker
thread."""

from __future__ import annotations

import datetime as dt
import struct
import threading
from typing import Any

import pytest

from bot import chart_worker
from bot.chart_worker import BarChart, Series
from bot.i18n import translator
from bot.services.questionnaires import default_catalog
from bot.services.reports import charts
from bot.views import charts as views
from db.models import Organisation, PairEvent, PairStatus
from tests.unit.journal_world import NOW, World, db, world  # noqa: F401 - fixtures by name
from tests.unit.test_coordinator_defects import ADMIN, _say, app  # noqa: F401 - the app
from tests.unit.test_swot_top import Seeded, _response, seed

T = translator("ru")
PNG = b"\x89PNG\r\n\x1a\n"


def _size(image: bytes) -> tuple[int, int]:
    assert image.startswith(PNG) and image[12:16] == b"IHDR"
    width, height = struct.unpack(">II", image[16:24])
    return width, height


async def _more(s: Seeded) -> None:
    """Two pairs ended early (one after its trial meeting, one with no stage in its history)
    and entry and exit self-assessments."""
    a, m = s.a, s.members
    trial = await a.pair_of(m["Сергей"], m["Ника"], status=PairStatus.ENDED)
    a.session.add_all([
        PairEvent(pair_id=trial.id, from_status="approved", to_status="intro", at=NOW),
        PairEvent(pair_id=trial.id, from_status="intro", to_status="trial", at=NOW),
        PairEvent(pair_id=trial.id, from_status="trial", to_status="ended", at=NOW),
    ])
    await a.pair_of(m["Анна"], m["Лев"], status=PairStatus.ENDED)
    for name, entry, exit_ in (
        ("Иван", {"engagement": 4, "anxiety": 8}, {"engagement": 8, "anxiety": 4}),
        ("Мария", {"engagement": 6, "anxiety": 9}, {"engagement": 7}),
        ("Пётр", {"engagement": 10}, None),
    ):
        await _response(a.session, m[name], "assessment", entry, stage="entry")
        if exit_ is not None:
            await _response(a.session, m[name], "assessment", exit_, stage="exit")
    await a.session.flush()


async def test_chart_numbers_by_hand(world: World) -> None:
    s = await seed(world.session)
    await _more(s)
    data = await charts.charts_data(world.session, s.a.org.id, default_catalog(), NOW)
    # pairs: completed P1 P3 P5, regular P2 P6 P7, intro P4, ended after trial, ended at once;
    # reached: approved all 9; intro 7 working or done + the one ended after trial = 8;
    # trial 6 (P4 is at intro) + 1 = 7; planning and regular 6; final and completed 3
    assert data.funnel == [
        ("approved", 9), ("intro", 8), ("trial", 7), ("planning", 6), ("regular", 6),
        ("final", 3), ("completed", 3),
    ]
    assert data.ended == 2
    # submitted final surveys: mentees Иван 9, Олег 7; mentors Пётр 10, Анна 8 (Мария's 3
    # was never submitted); B's are not A's
    assert data.satisfaction == {
        "mentee": [0, 0, 0, 0, 0, 0, 1, 0, 1, 0], "mentor": [0, 0, 0, 0, 0, 0, 0, 1, 0, 1]}
    # the same people at entry and exit: engagement Иван 4->8, Мария 6->7: 5.0 -> 7.5;
    # anxiety only Иван 8->4 (Мария skipped it at exit); Пётр has no exit
    dims = [(d.question_id, d.entry, d.exit, d.people) for d in data.assessment]
    assert dims == [("engagement", 5.0, 7.5, 2), ("anxiety", 8.0, 4.0, 1)]
    # held meetings start 3, 10, 17, 24, 31 days before Friday 20 November (local weeks from
    # Monday): this week P1 P2 P3 P4 P5 and the group's = 6; the week before 6; then 3 (P1,
    # P3, P5), 3, 2 (P3, P5); the cancelled one and B's do not count
    assert len(data.weeks) == charts.WEEKS
    assert data.weeks[-1] == (dt.date(2026, 11, 16), 6)
    assert data.weeks[0][0] == dt.date(2026, 8, 31)
    assert [n for _, n in data.weeks] == [0, 0, 0, 0, 0, 0, 0, 2, 3, 3, 6, 6]
    specs, missing = views.specs(T, data)
    assert missing == [] and len(specs) == 4
    assert specs[0].categories[0] == "Пара утверждена"
    assert specs[2].categories == ["Вовлеченность", "Тревожность"]
    assert specs[1].highlight_from == 7  # "satisfied": 8-10, the organisation's threshold
    en, _ = views.specs(translator("en"), data)
    assert en[0].title == "Pairs by stage" and en[1].series[0].name == "Mentees"


def test_week_bounds_follow_the_organisation_time() -> None:
    # 20:30 UTC on Sunday 22 November is already Monday 23 November in Vladivostok
    now = dt.datetime(2026, 11, 22, 20, 30, tzinfo=dt.UTC)
    bounds = charts.week_bounds(now, "Asia/Vladivostok", weeks=2)
    assert bounds[1] == dt.datetime(2026, 11, 22, 14, 0, tzinfo=dt.UTC)  # Mon 00:00 +10
    assert len(bounds) == 3 and bounds[2] - bounds[1] == dt.timedelta(weeks=1)


async def test_drawing_runs_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    real = chart_worker.render_one

    def spy(chart: BarChart) -> bytes:
        threads.append(threading.get_ident())
        return real(chart)

    monkeypatch.setattr(chart_worker, "render_one", spy)
    images = await chart_worker.draw([BarChart("Тест", ["а", "б"], [Series("x", [1, 2])])])
    assert threads and threads[0] != threading.get_ident()
    assert _size(images[0]) == (1200, 750)


async def _feed(fake: Any, bot: Any, dp: Any, user_id: int, text: str) -> None:
    from aiogram.types import Update

    await fake.user(user_id).send(text)
    raw = fake.pending_updates[-1]
    await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))


async def test_charts_sent_as_photos(app: Any) -> None:
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        s = await seed(session)
        await _more(s)
        empty = Organisation(name="Пустая школа", timezone="Europe/Moscow")
        session.add(empty)
        await session.commit()
        curator, org_a, org_b, empty_id = (
            s.curator_a.telegram_id or 0, s.a.org.id, s.b.org.id, empty.id)

    user = fake.user(curator)
    assert await _say(fake, bot, dp, curator, "/charts") == "📊 Графики: Школа"
    await user.wait_until(lambda: sum(m.kind == "photo" for m in user.messages) >= 4, timeout=30)
    photos = [m for m in user.messages if m.kind == "photo"]
    assert [p.text for p in photos] == [
        T("charts.title.funnel"), T("charts.title.satisfaction"), T("charts.title.assessment"),
        T("charts.title.weeks")]
    for photo in photos:
        assert photo.photo is not None and photo.photo.content is not None
        assert _size(photo.photo.content) == (1200, 750)
        assert 10_000 < len(photo.photo.content) < 1_000_000
    # a forged organisation in the command: refused, nothing drawn
    await _feed(fake, bot, dp, curator, f"/charts {org_b}")
    refused = await user.wait_message(contains="нет среди ваших", timeout=10)
    assert refused.text == f"Организации № {org_b} нет среди ваших."
    assert sum(m.kind == "photo" for m in user.messages) == 4
    # the coordinator: an organisation with no data gets a short message, not empty charts
    text = await _say(fake, bot, dp, ADMIN, f"/charts {empty_id}")
    assert text.startswith("📊 По организации «Пустая школа» пока нечего показать")
    assert not [m for m in fake.user(ADMIN).messages if m.kind == "photo"]
    # B has no self-assessments: its three charts, and the missing one is named
    text = await _say(fake, bot, dp, ADMIN, f"/charts {org_b}")
    assert text == "📊 Графики: Школа Б\nНет данных для графиков: самооценка на входе и выходе."
    admin = fake.user(ADMIN)
    await admin.wait_until(lambda: sum(m.kind == "photo" for m in admin.messages) >= 3,
                           timeout=30)
    assert org_a != org_b


async def test_coordinator_picks_among_many(app: Any) -> None:
    fake, bot, dp, database = app
    async with database.sessionmaker() as session:
        session.add_all([Organisation(name=f"Школа № {i + 1}", timezone="Europe/Moscow")
                         for i in range(views.PAGE_SIZE + 2)])
        await session.commit()
    assert await _say(fake, bot, dp, ADMIN, "/top") == "Выберите организацию (стр. 1 из 2):"
    admin = fake.user(ADMIN)
    picker = admin.messages[-1]
    assert picker.button_texts == [f"Школа № {i + 1}" for i in range(views.PAGE_SIZE)] + [
        "Дальше ▶"]
    await admin.press("Дальше ▶", picker)
    raw = fake.pending_updates[-1]
    from aiogram.types import Update

    await dp.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))
    second = await admin.wait_edit(picker, contains="стр. 2 из 2")
    assert second.button_texts == ["Школа № 9", "Школа № 10", "◀ Назад"]
    await admin.press("Школа № 10", second)
    await dp.feed_update(
        bot, Update.model_validate(fake.pending_updates[-1], context={"bot": bot}))
    shown = await admin.wait_message("Кандидаты на награды", timeout=10)
    assert "Школа № 10" in shown.text and T("top.none") in shown.text


async def test_coordinator_without_organisations(app: Any) -> None:
    fake, bot, dp, database = app
    assert await _say(fake, bot, dp, ADMIN, "/charts") == T("charts.no_orgs")
    assert await _say(fake, bot, dp, 9555, "/charts") == T("charts.only_curators")
