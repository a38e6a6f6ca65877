"""One scheduler among several instances: the leader runs the periodic jobs.

On PostgreSQL the leader holds a session-level advisory lock on a connection of its own. The
server releases it when that connection ends, so an instance that dies (killed, host gone)
frees it at once, and another instance takes it at its next attempt (every LEADER_POLL_S
seconds). The leader checks its connection at the same pace and stops running the jobs
as soon as it finds the connection gone. On SQLite (one instance by design) the lock is
always held. The delivery queue is not the leader's: every instance drains it (the claim
skips rows another instance holds).

Note: the lock needs a real session; a PgBouncer in transaction mode between the bot and
PostgreSQL would not keep it (point the bot at PostgreSQL or use session pooling).
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# pg_advisory locks take a bigint; per database, so two bots on two databases do not clash.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"nastavnik.scheduler").digest()[:8], "big", signed=True)


class Leader:
    """Whether this instance runs the periodic jobs; poll() keeps the answer current."""

    def __init__(self, engine: AsyncEngine, *, key: int = LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._conn: AsyncConnection | None = None
        self._single = engine.dialect.name != "postgresql"
        self.held = self._single

    async def poll(self) -> bool:
        """Check the held lock, or try to take it; return whether it is held now."""
        if self._single:
            return True
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                return True
            except Exception:
                log.warning("scheduler lock lost (its connection failed); jobs stop here")
                await self._drop(invalidate=True)
        try:
            conn = await self._engine.connect()
        except Exception:
            log.warning("scheduler lock: database unreachable")
            return False
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = (
                await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
            ).scalar()
        except Exception:
            log.warning("scheduler lock: attempt failed")
            await conn.invalidate()
            await conn.close()
            return False
        if not got:
            await conn.close()
            return False
        self._conn = conn
        self.held = True
        log.info("scheduler lock taken: this instance runs the periodic jobs")
        return True

    async def release(self) -> None:
        """Give the lock up (at shutdown), so another instance takes it without waiting."""
        if self._single or self._conn is None:
            return
        try:
            await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
        except Exception:
            await self._drop(invalidate=True)
            return
        await self._drop(invalidate=False)
        log.info("scheduler lock released")

    async def _drop(self, *, invalidate: bool) -> None:
        conn, self._conn, self.held = self._conn, None, False
        if conn is None:
            return
        try:
            if invalidate:  # never hand a connection that may still hold the lock to the pool
                await conn.invalidate()
            await conn.close()
        except Exception:
            log.debug("closing the lock connection failed", exc_info=True)
