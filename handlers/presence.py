"""Blocking and unblocking the bot: whether messages can reach a person."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import ChatMemberUpdated

from bot.context import Ctx
from db.models import ParticipantStatus


async def on_member_status(event: ChatMemberUpdated, ctx: Ctx) -> None:
    # Unblocking is an update from the person, which already made them reachable again
    # (ParticipantMiddleware); blocking is known here before any send fails with 403.
    participant = ctx.participant
    if participant is None or participant.status == ParticipantStatus.FORGOTTEN:
        return
    if event.new_chat_member.status == "kicked":
        participant.status = ParticipantStatus.UNREACHABLE


def create_router() -> Router:
    router = Router(name=__name__)
    router.my_chat_member.register(on_member_status, F.chat.type == "private")
    return router
