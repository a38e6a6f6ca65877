"""Callback data factories. Ids and short codes only: packed data stays under 64 bytes."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from db.models import AgeGroup


class AgeCb(CallbackData, prefix="age"):
    m: int
    age: AgeGroup


class ConsentCb(CallbackData, prefix="cs"):
    m: int
    ok: bool
    v: int  # the consent version shown: a button under an older text is stale


class GuardianCb(CallbackData, prefix="gd"):
    c: str  # the guardian link's unguessable code, not its sequential id
    ok: bool


class FormCb(CallbackData, prefix="fm"):
    m: int
    i: int


class StartQCb(CallbackData, prefix="sq"):
    m: int


class QAction(StrEnum):
    """What a questionnaire button does; one letter keeps the packed data short."""

    OPTION = "o"  # value: the option's index
    TOGGLE = "t"  # a multiple choice option on or off; value: the option's index
    DONE = "d"  # the multiple choice made
    SCALE = "s"  # value: 1-10
    YESNO = "y"  # value: 1 yes, 0 no
    BACK = "b"
    SKIP = "k"


class QCb(CallbackData, prefix="q"):
    """A questionnaire button: action, response id, question index, value."""

    a: QAction
    r: int
    q: int
    v: int = 0


class EditCb(CallbackData, prefix="ed"):
    r: int
    q: int


class ForgetCb(CallbackData, prefix="fg"):
    ok: bool


class PeopleCb(CallbackData, prefix="pp"):
    role: str
    page: int


class CardCb(CallbackData, prefix="cd"):
    m: int
    page: int = 0


class ProgrammeCb(CallbackData, prefix="pg"):
    p: int


class FormsAction(StrEnum):
    TOGGLE = "t"
    DONE = "d"


class NewProgFormCb(CallbackData, prefix="npf"):
    a: FormsAction
    i: int = 0  # the form's index, for TOGGLE
