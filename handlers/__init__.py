"""Routers, one per feature; order matters: specific first, fallback last."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import (
        broadcast,
        charts,
        closing,
        common,
        coordinator,
        curator,
        errors,
        export,
        fallback,
        journal,
        matching,
        meetings,
        onboarding,
        pause,
        plan,
        polls,
        presence,
        profile,
        quarterly,
        questionnaire,
        reports,
    )

    # Each module builds a fresh router: a second dispatcher (tests, webhook mode) gets its own.
    return [
        # First: the busiest updates (answers) find their handler at once. Its buttons are
        # its own, and its text handlers take no command, so the order changes no outcome.
        questionnaire.create_router(),
        errors.create_router(),
        presence.create_router(),
        onboarding.create_router(),  # deep links before the plain /start
        common.create_router(),
        profile.create_router(),
        coordinator.create_router(),
        matching.create_participant_router(),
        matching.create_router(),
        journal.create_router(),
        plan.create_router(),
        meetings.create_router(),
        pause.create_router(),
        broadcast.create_router(),
        closing.create_router(),
        polls.create_router(),
        quarterly.create_router(),
        charts.create_router(),
        reports.create_router(),
        export.create_router(),
        curator.create_router(),
        fallback.create_router(),
    ]
