"""The audit log of curator and coordinator actions (ids and codes only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditLog


def record(
    session: AsyncSession,
    *,
    actor_id: int | None,
    organisation_id: int | None,
    action: str,
    target_type: str | None = None,
    target_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        actor_id=actor_id,
        organisation_id=organisation_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
    )
    session.add(entry)
    return entry
