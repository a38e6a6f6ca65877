"""Blocking and unblocking the bot: whether messages can reach a person."""

from __future__ import annotations

from typing import Final

from aiogram import F, Router
from aiogram.types import ChatMemberUpdated

from db.models import Participant, ParticipantStatus

router: Final[Router] = Router(name=__name__)


@router.my_chat_member(F.chat.type == "private")
async def on_member_status(event: ChatMemberUpdated, participant: Participant | None) -> None:
    # Unblocking is an update from the person, which already made them reachable again
    # (ParticipantMiddleware); blocking is known here before any send fails with 403.
    if participant is None or participant.status == ParticipantStatus.FORGOTTEN:
        return
    if event.new_chat_member.status == "kicked":
        participant.status = ParticipantStatus.UNREACHABLE
