"""/help by role."""

from __future__ import annotations

from bot.i18n import Translator
from db.models import Role

# /help and the menu lead with the highest role held.
HELP_SECTIONS = (Role.COORDINATOR, Role.CURATOR, Role.MENTOR, Role.MENTEE)


def help_text(roles: frozenset[Role], t: Translator) -> str:
    if not roles:
        return t("help.guest")
    parts = []
    if Role.COORDINATOR in roles:
        parts.append(t("help.coordinator"))
    if Role.CURATOR in roles or Role.COORDINATOR in roles:
        parts.append(t("help.curator"))
    parts += [t(f"help.{role.value}") for role in (Role.MENTOR, Role.MENTEE) if role in roles]
    personal = roles & {Role.MENTEE, Role.MENTOR, Role.CURATOR}
    parts.append(t("help.base" if personal else "help.general"))
    return "\n\n".join(parts)


def role_names(roles: frozenset[Role], t: Translator) -> str:
    return ", ".join(t(f"role.{role.value}") for role in HELP_SECTIONS if role in roles)
