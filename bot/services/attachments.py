"""Files attached to a final report (the mentee's portfolio): checks, rows, the file storage.

A file is downloaded from Telegram into `settings.files_dir` under an opaque random name
(no person's name or file name on disk); the row keeps the original name, type and size.
/forget deletes the rows (bot/services/privacy.py) and then the files (`remove_files`).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import ServiceError
from db.models import Attachment, QuestionnaireResponse
from db.queries import closing as q

MAX_BYTES = 20 * 1024 * 1024  # what the Bot API's getFile serves
MAX_FILES = 10  # per report
DOCUMENT_TYPES = frozenset({
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text",
    "application/rtf",
})
DOCUMENT_SUFFIXES = frozenset({".pdf", ".doc", ".docx", ".odt", ".rtf", ".jpg", ".jpeg",
                               ".png", ".heic", ".webp"})


@dataclass(frozen=True, slots=True)
class Incoming:
    """A photo or document as the message describes it (before downloading)."""

    kind: str  # photo | document
    file_id: str
    file_unique_id: str
    size: int | None
    file_name: str | None = None
    mime_type: str | None = None


def allowed_type(incoming: Incoming) -> bool:
    if incoming.kind == "photo":
        return True
    mime = (incoming.mime_type or "").lower()
    if mime.startswith("image/") or mime in DOCUMENT_TYPES:
        return True
    suffix = Path(incoming.file_name or "").suffix.lower()
    return mime in ("", "application/octet-stream") and suffix in DOCUMENT_SUFFIXES


async def check(session: AsyncSession, response_id: int, incoming: Incoming) -> None:
    """Refuse what cannot be kept: a type, a size, one file too many, the same file again."""
    if not allowed_type(incoming):
        raise ServiceError("attach_type")
    if incoming.size is not None and incoming.size > MAX_BYTES:
        raise ServiceError("attach_too_big", mb=MAX_BYTES // (1024 * 1024))
    if await q.attachment_count(session, response_id) >= MAX_FILES:
        raise ServiceError("attach_too_many", max=MAX_FILES)
    if await q.has_file(session, response_id, incoming.file_unique_id):
        raise ServiceError("attach_repeated")


def new_key() -> str:
    return secrets.token_hex(16)


def path_of(files_dir: Path, key: str) -> Path:
    return files_dir / key[:2] / key


def prepare(files_dir: Path, key: str) -> Path:
    path = path_of(files_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def add(
    session: AsyncSession,
    response: QuestionnaireResponse,
    pair_id: int | None,
    incoming: Incoming,
    *,
    key: str,
    size: int,
) -> Attachment:
    row = Attachment(
        response_id=response.id, membership_id=response.membership_id, pair_id=pair_id,
        kind=incoming.kind, storage_key=key, file_unique_id=incoming.file_unique_id,
        file_name=incoming.file_name[:255] if incoming.file_name else None,
        mime_type=incoming.mime_type, size=size,
    )
    session.add(row)
    return row


def remove_files(files_dir: Path, keys: Iterable[str]) -> int:
    """Delete the stored files (a missing one is no error); how many were deleted."""
    removed = 0
    for key in keys:
        with contextlib.suppress(FileNotFoundError):
            path_of(files_dir, key).unlink()
            removed += 1
    return removed
