"""The scheduler lock: one leader on PostgreSQL, taken over when its session dies; trivially
held on SQLite; the periodic jobs run only on the leader, the outbox drain everywhere."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.clock import SystemClock
from bot.config import Settings, load_settings
from db.engine import create_engine
from scheduler import leader as leader_module
from scheduler import reminders, runner
from scheduler.leader import Leader


async def test_sqlite_is_always_the_leader(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    try:
        leader = Leader(engine)
        assert leader.held and await leader.poll() and leader.held
        await leader.release()
        assert leader.held
    finally:
        await engine.dispose()


async def test_one_leader_and_takeover_when_its_session_dies(pg_url: str) -> None:
    engines = [create_engine(pg_url) for _ in range(3)]
    key = 424242  # not the production key: tests may share a server with a running bot
    first, second = Leader(engines[0], key=key), Leader(engines[1], key=key)
    try:
        assert await first.poll() is True
        assert await second.poll() is False and not second.held
        assert await first.poll() is True  # still held: its connection answers

        # The leader's session ends (its process killed): the server frees the lock.
        async with engines[2].connect() as admin:
            pids = (await admin.execute(text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :k "
                "AND granted"), {"k": key},
            )).scalars().all()
            assert len(pids) == 1
            await admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pids[0]})
            await admin.commit()

        # The signal is sent at once; the backend frees the lock when it has exited, a
        # moment later. The other instance keeps polling (every LEADER_POLL_S in production).
        for _ in range(100):
            if await second.poll():
                break
            await asyncio.sleep(0.05)
        assert second.held
        assert await first.poll() is False and not first.held  # noticed, and cannot retake

        await second.release()  # a clean shutdown hands it over without waiting
        assert not second.held
        assert await first.poll() is True
        await first.release()
    finally:
        for engine in engines:
            await engine.dispose()


def test_lock_key_is_a_bigint() -> None:
    assert -(2**63) <= leader_module.LOCK_KEY < 2**63


class _Stub:
    def __init__(self, held: bool) -> None:
        self.held = held

    async def poll(self) -> bool:
        return self.held


@pytest.mark.parametrize("held", [True, False])
async def test_periodic_jobs_run_only_on_the_leader(
    held: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    async def fake_tick(*args: Any) -> int:
        calls.append("reminders")
        return 0

    monkeypatch.setattr(reminders, "tick", fake_tick)
    settings = load_settings(Settings, bot_token="123:abc")
    scheduler = runner.create_scheduler(
        None, None, SystemClock(), settings, _Stub(held),  # type: ignore[arg-type]
    )
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert {"outbox.drain", "leader.poll", "reminders.tick", "journal.ask"} <= set(jobs)
    await jobs["reminders.tick"].func()
    assert calls == (["reminders"] if held else [])
