"""The movable clock: `python -m bot admin clock ...` against a running bot's database."""

from __future__ import annotations

import datetime as dt

from tests.e2e.harness import BotProcessFactory


def _shown(out: str) -> dt.datetime:
    # "bot time: 2026-11-25T09:00:00+00:00 (offset 123 s)"
    return dt.datetime.fromisoformat(out.split("bot time: ", 1)[1].split(" ", 1)[0])


async def test_clock_commands_move_the_shared_time(bot_process: BotProcessFactory) -> None:
    bot = await bot_process({"CLOCK_CONTROL": "1"})
    before = _shown(await bot.clock("show", settle=0))
    assert abs(before - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=30)

    advanced = _shown(await bot.clock("advance", "1d3h", settle=0))
    assert dt.timedelta(days=1, hours=3) - (advanced - before) < dt.timedelta(seconds=30)

    target = dt.datetime(2027, 3, 1, 9, 30, tzinfo=dt.UTC)
    moved = _shown(await bot.clock("set", "2027-03-01T19:30+10:00"))
    assert abs(moved - target) < dt.timedelta(seconds=5)
    assert "CLOCK_CONTROL is on" in bot.log_text()
    assert "Traceback" not in bot.log_text()

    rc, _, err = await bot.admin("clock", "advance", "soon")
    assert rc == 1 and "expected a duration" in err


async def test_clock_refuses_without_clock_control(bot_process: BotProcessFactory) -> None:
    bot = await bot_process()
    rc, out, err = await bot.admin("clock", "advance", "1d", env={"CLOCK_CONTROL": "0"})
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "CLOCK_CONTROL=1" in err
