"""Routers, one per feature; order matters: specific first, fallback last."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import (
        common,
        coordinator,
        curator,
        errors,
        fallback,
        matching,
        onboarding,
        presence,
        profile,
        questionnaire,
    )

    routers = [
        errors.router,
        presence.router,
        onboarding.router,  # deep links before the plain /start
        common.router,
        profile.router,
        questionnaire.router,
        coordinator.router,
        matching.create_participant_router(),
        matching.create_router(),
        curator.router,
        fallback.router,
    ]
    for router in routers:
        # Module routers attach to one dispatcher at a time; tests build several.
        router._parent_router = None
    return routers
