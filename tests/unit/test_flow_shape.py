"""The participant flow's shape: short button data, fresh routers, no router importing another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from db.models import AgeGroup
from handlers import common, errors, fallback, onboarding, presence, profile, questionnaire
from keyboards.callbacks import AgeCb, QAction, QCb

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
FLOW_MODULES = (errors, presence, onboarding, common, profile, questionnaire, fallback)


@pytest.mark.parametrize("action", list(QAction))
def test_question_buttons_pack_short_and_as_before(action: QAction) -> None:
    packed = QCb(a=action, r=2**53, q=999, v=10).pack()
    assert len(packed.encode()) <= 64
    # Buttons already in chats keep working: the one-letter codes did not change.
    assert packed.startswith(f"q:{action.value}:")
    assert QCb.unpack(packed).a is action
    assert AgeCb.unpack(AgeCb(m=1, age=AgeGroup.TEEN).pack()).age is AgeGroup.TEEN


def test_each_call_builds_a_fresh_router() -> None:
    for module in FLOW_MODULES:
        first, second = module.create_router(), module.create_router()
        assert first is not second
        assert first.name == second.name == module.__name__


def test_no_handler_module_imports_another() -> None:
    for module in FLOW_MODULES:
        path = HANDLERS / f"{module.__name__.rpartition('.')[2]}.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("handlers"), path.name
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("handlers") for a in node.names), path.name
