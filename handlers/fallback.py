"""Last router: every input that nothing else took still gets an answer."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.commands import COORDINATOR_ONLY, CURATOR_ONLY, command_name
from bot.context import Ctx
from bot.roles import CuratorAccess, pending_curator


async def unknown_command(message: Message, ctx: Ctx) -> None:
    t = ctx.t
    name = command_name(message.text)
    if name in CURATOR_ONLY:
        pending = pending_curator(ctx.participant)
        if pending == CuratorAccess.AWAITING:
            text = t("curator_access.awaiting")
        elif pending == CuratorAccess.TERMS:
            text = t("curator_access.terms_first")
        else:
            text = t("common.no_rights", role=t("role_for.curator"))
    elif name in COORDINATOR_ONLY:
        text = t("common.no_rights", role=t("role_for.coordinator"))
    else:
        text = t("common.unknown_command")
    await ctx.send(text)


async def not_understood(message: Message, ctx: Ctx) -> None:
    await ctx.send(ctx.t("common.not_understood"))


async def stale_button(query: CallbackQuery, ctx: Ctx) -> None:
    await ctx.answer(query, ctx.t("common.stale_button"), alert=False)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(not_understood)
    router.callback_query.register(stale_button)
    return router
