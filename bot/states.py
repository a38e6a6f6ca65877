"""Dialog states that more than one router needs to recognise."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class Answering(StatesGroup):
    """A questionnaire is on screen; its cursor is in the database, its id in the dialog."""

    active = State()
