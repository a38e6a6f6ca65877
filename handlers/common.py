"""/start without a code, /help by role, /cancel."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from bot import flows
from bot.commands import update_menu
from bot.context import Ctx
from bot.roles import CuratorAccess, curator_access, pending_curator
from bot.states import Answering
from bot.views.common import help_text, role_names
from bot.views.onboarding import curator_terms
from db.queries import participants as q_people


async def cancel(message: Message, ctx: Ctx) -> None:
    current = await ctx.state.get_state()
    if current is None:
        await ctx.send(ctx.t("common.nothing_to_cancel"))
        return
    await ctx.state.clear()
    if current == Answering.active.state:
        # Nothing is undone: the answers stay and the questionnaire waits where it stopped.
        await ctx.send(ctx.t("questionnaire.paused"))
        return
    await ctx.send(ctx.t("common.cancelled"))


async def help_(message: Message, ctx: Ctx) -> None:
    await _sync_menu(ctx)
    text = help_text(ctx.roles, ctx.t)
    if pending_curator(ctx.participant) == CuratorAccess.AWAITING:
        text += "\n\n" + ctx.t("help.curator_awaiting")
    await ctx.send(text)


async def _sync_menu(ctx: Ctx) -> None:
    """Menus follow the roles held now (a coordinator by ADMIN_IDS has no other moment)."""
    if ctx.roles or ctx.participant is not None:
        await update_menu(ctx, ctx.roles)


async def start_plain(message: Message, ctx: Ctx) -> None:
    t, participant, roles = ctx.t, ctx.participant, ctx.roles
    await _sync_menu(ctx)
    pending = pending_curator(participant)
    if pending == CuratorAccess.TERMS and participant is not None:
        membership = next(
            m for m in participant.memberships if curator_access(m) == CuratorAccess.TERMS
        )
        full = await q_people.membership(ctx.session, membership.id)
        assert full is not None
        await flows.send_paper(ctx, curator_terms(t, ctx.consent, full.organisation.name, full.id))
        return
    if pending == CuratorAccess.AWAITING and not roles:
        await ctx.send(t("curator_access.awaiting"))
        return
    if not roles:
        await ctx.send(t("start.no_code"))
        return
    # "Welcome back" only for someone the bot has met: a coordinator's first /start is a hello.
    key = "start.welcome_back" if participant is not None else "start.hello_roles"
    await ctx.send(t(key, roles=role_names(roles, t)))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cancel, Command("cancel"))
    router.message.register(help_, Command("help"))
    router.message.register(start_plain, CommandStart())
    return router
