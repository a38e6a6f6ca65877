"""Closing the cycle in chat: the invitations' buttons (exit self-assessment, final report,
the curator's review), attaching files to a report, and the curators' /complete,
/reports (a pair's results and files) and /monitoring (their own questionnaire).

The questions themselves are asked by the questionnaire engine (bot/flows.py); what follows
a finished item is bot/flows_closing.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot import flows, flows_closing
from bot.context import Ctx
from bot.ids import parse_id
from bot.services import answering, attachments, closing, people, quarterly
from bot.services.attachments import Incoming
from bot.services.errors import NotYoursError, ServiceError, StaleError
from bot.views import closing as views
from bot.views import quarterly as quarterly_views
from db.models import (
    ACTIVE_PAIR_STATUSES,
    Attachment,
    Pair,
    PairStatus,
    QuestionnaireResponse,
    ResponseStatus,
    Role,
)
from db.queries import closing as q
from db.queries import organisations as q_orgs
from db.queries import participants as q_people
from keyboards import closing as kb
from keyboards.closing import CloseAction, CloseCb

MIN_REASON = 5


class Closing(StatesGroup):
    files = State()  # data: r (the report's response id)
    reason = State()  # data: pair (the pair to complete anyway)


# -- starting an item -------------------------------------------------------------------------
def _me(ctx: Ctx) -> int:
    if ctx.participant is None:
        raise NotYoursError("closing_not_yours")
    return ctx.participant.id


async def _closing_pair(ctx: Ctx, pair_id: int) -> Pair:
    pair = await ctx.session.get(Pair, pair_id)
    if pair is None:
        raise StaleError("closing_stale")
    return pair


def _check_final(pair: Pair) -> None:
    if pair.status not in closing.CLOSING_STATUSES:
        raise StaleError("closing_not_final")


async def on_exit(query: CallbackQuery, callback_data: CloseCb, ctx: Ctx) -> None:
    me = _me(ctx)
    membership = await q_people.membership(ctx.session, callback_data.id)
    if membership is None or membership.participant_id != me:
        raise NotYoursError("closing_not_yours")
    pairs = await q.pairs_of(ctx.session, membership.id)
    if not any(p.status in closing.CLOSING_STATUSES for p in pairs):
        raise StaleError("closing_not_final")
    await ctx.answer(query)
    await flows.begin(ctx, membership, answering.EXIT)


async def on_report(query: CallbackQuery, callback_data: CloseCb, ctx: Ctx) -> None:
    me = _me(ctx)
    pair = await _closing_pair(ctx, callback_data.id)
    membership = await closing.own_membership(ctx.session, pair, me)
    _check_final(pair)
    questionnaire = closing.report_for(ctx.catalog, membership)
    await ctx.answer(query)
    await flows_closing.begin_item(
        ctx, membership, questionnaire.id, closing.report_stage(pair.id)
    )


async def on_review(query: CallbackQuery, callback_data: CloseCb, ctx: Ctx) -> None:
    me = _me(ctx)
    pair = await _closing_pair(ctx, callback_data.id)
    programme = await q_orgs.get_programme(ctx.session, pair.programme_id)
    assert programme is not None
    membership = await closing.curator_membership(ctx.session, programme.organisation_id, me)
    _check_final(pair)
    await ctx.answer(query)
    await flows_closing.begin_item(
        ctx, membership, closing.REVIEW_ID, closing.review_stage(pair.id)
    )


async def monitoring_command(message: Message, ctx: Ctx) -> None:
    """The curator's monitoring questionnaire (stage 1) for their current programme."""
    if ctx.participant is None or Role.CURATOR not in ctx.roles:
        await ctx.send(ctx.t("closing.curators_only"))
        return
    scope = await q_people.curator_org_ids(ctx.session, ctx.participant.id)
    programme = await people.current_programme(ctx.session, ctx.participant, scope)
    membership = await closing.curator_membership(
        ctx.session, programme.organisation_id, ctx.participant.id
    )
    await flows_closing.begin_item(
        ctx, membership, closing.MONITOR_ID, closing.monitor_stage(programme.id)
    )


# -- attachments ------------------------------------------------------------------------------
async def _own_report(ctx: Ctx, response_id: int) -> QuestionnaireResponse:
    me = _me(ctx)
    response = await ctx.session.get(QuestionnaireResponse, response_id)
    if response is None:
        raise StaleError("closing_stale")
    membership = await q_people.membership(ctx.session, response.membership_id)
    if membership is None or membership.participant_id != me:
        raise NotYoursError("closing_not_yours")
    if (
        not response.stage.startswith(closing.REPORT_PREFIX)
        or membership.role != Role.MENTEE
        or response.status != ResponseStatus.DONE
    ):
        raise StaleError("closing_stale")
    return response


async def on_files(query: CallbackQuery, callback_data: CloseCb, ctx: Ctx) -> None:
    response = await _own_report(ctx, callback_data.id)
    count = await q.attachment_count(ctx.session, response.id)
    await ctx.state.set_state(Closing.files)
    await ctx.state.set_data({"r": response.id})
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(*views.attach_prompt(ctx.t, response.id, count, attachments.MAX_FILES))


async def on_files_done(query: CallbackQuery, callback_data: CloseCb, ctx: Ctx) -> None:
    response = await _own_report(ctx, callback_data.id)
    count = await q.attachment_count(ctx.session, response.id)
    if await ctx.state.get_state() == Closing.files.state:
        await ctx.state.clear()
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(ctx.t("closing.attach_done", n=count))


def _incoming(message: Message) -> Incoming | None:
    if message.photo:
        largest = message.photo[-1]
        return Incoming("photo", largest.file_id, largest.file_unique_id, largest.file_size)
    if message.document:
        doc = message.document
        return Incoming("document", doc.file_id, doc.file_unique_id, doc.file_size,
                        doc.file_name, doc.mime_type)
    return None


async def on_file(message: Message, ctx: Ctx) -> None:
    data = await ctx.state.get_data()
    incoming = _incoming(message)
    if incoming is None or "r" not in data:
        await ctx.send(ctx.t("closing.attach_expected"))
        return
    response = await _own_report(ctx, int(data["r"]))
    await attachments.check(ctx.session, response.id, incoming)
    key = attachments.new_key()
    path = attachments.prepare(ctx.settings.files_dir, key)
    await ctx.commit()  # no Telegram request inside a transaction
    try:
        await ctx.bot.download(incoming.file_id, destination=path)
        size = path.stat().st_size
    except (TelegramAPIError, OSError):
        attachments.remove_files(ctx.settings.files_dir, [key])
        await ctx.send(ctx.t("closing.attach_failed"))
        return
    if size > attachments.MAX_BYTES:
        attachments.remove_files(ctx.settings.files_dir, [key])
        raise ServiceError("attach_too_big", mb=attachments.MAX_BYTES // (1024 * 1024))
    response = await _own_report(ctx, int(data["r"]))
    attachments.add(ctx.session, response, closing.pair_of_stage(response.stage), incoming,
                    key=key, size=size)
    await ctx.session.flush()
    count = await q.attachment_count(ctx.session, response.id)
    await ctx.send(*views.attached(ctx.t, response.id, count, attachments.MAX_FILES))


async def _send_files(ctx: Ctx, rows: Sequence[Attachment], caption: str) -> None:
    for row in rows:
        path = attachments.path_of(ctx.settings.files_dir, row.storage_key)
        if path.exists():
            name = row.file_name or f"photo-{row.id}.jpg"
            await ctx.send_document(path.read_bytes(), name, caption)


async def portfolio_command(message: Message, ctx: Ctx) -> None:
    """/portfolio: the files the person attached to their final reports."""
    rows = (
        await q.attachments_of_participant(ctx.session, ctx.participant.id)
        if ctx.participant is not None else []
    )
    if not rows:
        await ctx.send(ctx.t("closing.portfolio_empty"))
        return
    await ctx.send(ctx.t("closing.portfolio", n=len(rows)))
    await _send_files(ctx, rows, ctx.t("closing.portfolio_caption"))


async def on_not_file(message: Message, ctx: Ctx) -> None:
    data = await ctx.state.get_data()
    markup = kb.files_done(ctx.t, int(data["r"])) if "r" in data else None
    await ctx.send(ctx.t("closing.attach_expected"), markup)


# -- /complete --------------------------------------------------------------------------------
async def _curated(ctx: Ctx) -> list[int]:
    if not ctx.roles & {Role.CURATOR, Role.COORDINATOR}:
        return []
    return await people.curator_scope(ctx.session, ctx.participant, Role.COORDINATOR in ctx.roles)


async def _pair_in_scope(ctx: Ctx, pair_id: int, scope: list[int]) -> tuple[Pair, int]:
    """The pair and its organisation; a pair outside the curator's scope does not exist."""
    if await people.pair_access(ctx.session, pair_id, scope) != people.Access.OK:
        raise ServiceError("closing_no_pair")
    pair = await ctx.session.get(Pair, pair_id, populate_existing=True)
    assert pair is not None
    programme = await q_orgs.get_programme(ctx.session, pair.programme_id)
    assert programme is not None
    return pair, programme.organisation_id


async def _complete_one(ctx: Ctx, pair: Pair, organisation_id: int) -> None:
    t = ctx.t
    if pair.status == PairStatus.COMPLETED:
        await ctx.send(t("closing.already", pair=pair.id))
        return
    if pair.status not in ACTIVE_PAIR_STATUSES:
        raise ServiceError("closing_not_active")
    state = await closing.readiness(ctx.session, pair)
    if not state.ready:
        await ctx.send(views.missing_text(t, pair.id, state.missing), kb.override(t, pair.id))
        return
    await closing.complete(ctx.session, pair.id, actor_id=ctx.participant.id if ctx.participant
                           else None, organisation_id=organisation_id, now=ctx.now)
    await ctx.send(t("closing.completed", pair=pair.id))


async def complete_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    scope = await _curated(ctx)
    if not scope:
        await ctx.send(ctx.t("closing.curators_only"))
        return
    args = (command.args or "").strip()
    target = parse_id(args)
    if target is None:
        await ctx.send(ctx.t("closing.usage"))
        return
    if not args.startswith("#"):
        pair, organisation_id = await _pair_in_scope(ctx, target, scope)
        await _complete_one(ctx, pair, organisation_id)
        return
    if await people.members_access(ctx.session, [target], scope) != people.Access.OK:
        raise ServiceError("closing_no_member", member=target)
    pairs = await closing.pairs_of_member(ctx.session, target)
    if not pairs:
        await ctx.send(ctx.t("closing.member_none", member=target))
        return
    for pair in pairs:
        found, organisation_id = await _pair_in_scope(ctx, pair.id, scope)
        await _complete_one(ctx, found, organisation_id)


async def reports_command(message: Message, command: CommandObject, ctx: Ctx) -> None:
    """/reports N: the pair's final reports, the reviews, and the mentee's files."""
    scope = await _curated(ctx)
    if not scope:
        await ctx.send(ctx.t("closing.curators_only"))
        return
    pair_id = parse_id(command.args)
    if pair_id is None:
        await ctx.send(ctx.t("closing.reports_usage"))
        return
    pair, _ = await _pair_in_scope(ctx, pair_id, scope)
    sections = await closing.pair_reports(ctx.session, ctx.catalog, pair)
    await ctx.send(views.reports_text(ctx.t, pair.id, sections))
    for section in sections:
        await _send_files(ctx, section.files, ctx.t("closing.file_caption", pair=pair.id))
    quarters = await quarterly.pair_reports(ctx.session, pair.id)
    if quarters:
        await ctx.send(quarterly_views.pair_text(ctx.t, ctx.catalog, quarters))


async def on_override(query: CallbackQuery, callback_data: CloseCb, ctx: Ctx) -> None:
    scope = await _curated(ctx)
    if not scope:
        raise NotYoursError("closing_not_yours")
    pair, _ = await _pair_in_scope(ctx, callback_data.id, scope)
    if pair.status == PairStatus.COMPLETED:
        raise StaleError("closing_already", pair=pair.id)
    if pair.status not in ACTIVE_PAIR_STATUSES:
        raise StaleError("closing_not_active")
    await ctx.state.set_state(Closing.reason)
    await ctx.state.set_data({"pair": pair.id})
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(ctx.t("closing.ask_reason", pair=pair.id), kb.cancel(ctx.t, pair.id))


async def on_reason(message: Message, ctx: Ctx) -> None:
    reason = (message.text or "").strip()
    if len(reason) < MIN_REASON:
        await ctx.send(ctx.t("closing.reason_short"))
        return
    data = await ctx.state.get_data()
    await ctx.state.clear()
    scope = await _curated(ctx)
    pair, organisation_id = await _pair_in_scope(ctx, int(data.get("pair") or 0), scope)
    result = await closing.complete(
        ctx.session, pair.id, actor_id=ctx.participant.id if ctx.participant else None,
        organisation_id=organisation_id, now=ctx.now, reason=reason,
    )
    key = {
        closing.Outcome.ALREADY: "closing.already",
        closing.Outcome.COMPLETED: "closing.completed",
        closing.Outcome.OVERRIDDEN: "closing.overridden",
    }[result.outcome]
    await ctx.send(ctx.t(key, pair=pair.id))


async def on_cancel(query: CallbackQuery, callback_data: CloseCb, ctx: Ctx) -> None:
    if await ctx.state.get_state() == Closing.reason.state:
        await ctx.state.clear()
    await ctx.answer(query)
    await ctx.drop_buttons(query.message)
    await ctx.send(ctx.t("common.cancelled"))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(complete_command, Command("complete"))
    router.message.register(monitoring_command, Command("monitoring"))
    router.message.register(reports_command, Command("reports"))
    router.message.register(portfolio_command, Command("portfolio"))
    buttons = (
        (on_exit, CloseAction.EXIT),
        (on_report, CloseAction.REPORT),
        (on_review, CloseAction.REVIEW),
        (on_files, CloseAction.FILES),
        (on_files_done, CloseAction.DONE),
        (on_override, CloseAction.OVERRIDE),
        (on_cancel, CloseAction.CANCEL),
    )
    for handler, action in buttons:
        router.callback_query.register(handler, CloseCb.filter(F.a == action))
    router.message.register(on_file, StateFilter(Closing.files), F.photo | F.document)
    router.message.register(
        on_not_file, StateFilter(Closing.files), ~F.text.startswith("/")
    )
    router.message.register(
        on_reason, StateFilter(Closing.reason), F.text, ~F.text.startswith("/")
    )
    return router
