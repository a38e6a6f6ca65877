"""Questionnaire data files: every form covered, matching fields present, and the rest of the data checks."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from bot.services.questionnaires import InvalidAnswer, QuestionnaireFileError, default_catalog
from bot.services.questionnaires import parse as parse_questionnaire
from tests.unit.test_questionnaire_data import (  # shared helpers and fixtures
    ASSESSMENT_IDS,
    CONSENT,
    FORMS,
    LANGS,
    MAX_CONSENT_LEN,
    MAX_TITLE_LEN,
    QDATA,
    _by_match,
    _check_i18n,
    _is_int,
    _load,
    _option_ids,
)


def _per_form(role: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {f: [] for f in FORMS}
    for data in QDATA.values():
        if data["role"] == role:
            for form in data["forms"]:
                out[form].append(data)
    return out


@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_every_form_covered_once(role):
    for form, files in _per_form(role).items():
        ids = [d["id"] for d in files]
        assert len(files) == 1, f"form {form}: {len(files)} {role} questionnaires {ids}"


@pytest.mark.parametrize("name", sorted(n for n, d in QDATA.items() if d["role"] == "mentee"))
def test_mentee_has_matching_fields(name):
    by_match = _by_match(QDATA[name])
    for key in ("needs", "interests", "times", "format"):
        assert key in by_match, f"{name}: no question with match {key}"


@pytest.mark.parametrize("name", sorted(n for n, d in QDATA.items() if d["role"] == "mentor"))
def test_mentor_has_matching_fields(name):
    by_match = _by_match(QDATA[name])
    for key in ("competences", "interests", "times", "format", "experience", "capacity"):
        assert key in by_match, f"{name}: no question with match {key}"
    cap = by_match["capacity"][0]
    assert cap["type"] == "number" and cap["min"] == 1 and cap["max"] == 5, f"{name}: capacity"
    assert cap.get("integer", True) is True, f"{name}: capacity must be an integer"
    assert not cap.get("optional", False), f"{name}: capacity may not be skipped"
    assert by_match["experience"][0]["type"] == "number", f"{name}: experience"


# (mentee key, mentor key): mentee option ids must be a subset of the mentor's
PAIRED_KEYS = [
    ("needs", "competences"),
    ("interests", "interests"),
    ("times", "times"),
    ("format", "format"),
    ("subject", "subject"),
    ("category_detail", "category_detail"),
]


@pytest.mark.parametrize("form", sorted(FORMS))
def test_matching_vocabulary_consistent(form):
    mentee = _per_form("mentee")[form][0]
    mentor = _per_form("mentor")[form][0]
    mentee_q = _by_match(mentee)
    mentor_q = _by_match(mentor)
    for mentee_key, mentor_key in PAIRED_KEYS:
        if mentee_key not in mentee_q:
            continue
        if mentee_key in ("subject", "category_detail") and mentor_key not in mentor_q:
            pytest.fail(f"{form}: mentee asks {mentee_key} but {mentor['id']} does not")
        assert mentor_key in mentor_q, f"{form}: {mentor['id']} has no {mentor_key}"
        have = set(_option_ids(mentee_q[mentee_key][0]))
        offer = set(_option_ids(mentor_q[mentor_key][0]))
        missing = have - offer
        assert not missing, (
            f"{form}: {mentee['id']} {mentee_key} ids {sorted(missing)} "
            f"are missing from {mentor['id']} {mentor_key}"
        )


def test_shared_option_texts_consistent():
    """The same option id under the same match key should read the same everywhere
    for the shared vocabularies (times, format)."""
    seen: dict[tuple[str, str], dict] = {}
    for name, data in QDATA.items():
        for key, qs in _by_match(data).items():
            if key not in ("times", "format"):
                continue
            for o in qs[0]["options"]:
                k = (key, o["id"])
                if k in seen:
                    assert seen[k] == o["text"], f"{name}: {key}.{o['id']} text differs"
                else:
                    seen[k] = o["text"]


def test_assessment():
    data = QDATA["assessment.yaml"]
    assert data["id"] == "assessment"
    assert data["role"] == "any"
    assert (data.get("forms") or []) == []
    qs = data["questions"]
    assert [q["id"] for q in qs] == ASSESSMENT_IDS
    for q in qs:
        assert q["type"] == "scale", q["id"]
        assert "low" in q and "high" in q, f"{q['id']}: scale labels"
        assert not q.get("optional", False), f"{q['id']}: assessment answers are required"
        assert "when" not in q and "match" not in q, q["id"]


def test_consent():
    data = _load(CONSENT)
    assert isinstance(data, dict)
    assert set(data) == {"version", "self", "guardian", "curator"}
    assert _is_int(data["version"]) and data["version"] >= 1
    for part in ("self", "guardian", "curator"):
        block = data[part]
        assert set(block) == {"title", "text"}, part
        _check_i18n(block["title"], f"consent.{part}.title", MAX_TITLE_LEN)
        _check_i18n(block["text"], f"consent.{part}.text", MAX_CONSENT_LEN, allow_org=True)
        for lang in sorted(LANGS):
            text = block["text"][lang]
            assert "{org}" in text, f"consent.{part}.{lang}: no {{org}} placeholder"
            assert "/forget" in text, f"consent.{part}.{lang}: no /forget"
            law = "152-ФЗ" if lang == "ru" else "152-FZ"
            assert law in text, f"consent.{part}.{lang}: no reference to {law}"
            # the placeholder must format cleanly
            assert text.format(org="ОРГ") != text


# -- the engine against the schema ---------------------------------------------------------
TODAY = dt.date(2026, 9, 1)


def _one(**question) -> dict:
    return {
        "id": "t", "title": {"ru": "Т"},
        "questions": [{"id": "q", "type": "text", "text": {"ru": "Вопрос?"}, **question}],
    }


def test_loader_reads_labels_and_defaults_them() -> None:
    grade = default_catalog().get("mentee-student-student").question("grade")
    assert grade.label == {"ru": "Класс", "en": "Grade"}
    assert all(q.label for qn in default_catalog() for q in qn.questions)
    defaulted = parse_questionnaire(_one(text={
        "ru": "В каком классе вы учитесь? Введите число от 1 до 11.",
        "en": "Your grade. Enter a number.",
    })).questions[0]
    assert defaulted.label == {"ru": "В каком классе вы учитесь?", "en": "Your grade"}


@pytest.mark.parametrize("label", [{"en": "no ru"}, {"ru": "x" * 81}, {"ru": "two\nlines"}, "x"])
def test_loader_rejects_bad_labels(label) -> None:
    with pytest.raises(QuestionnaireFileError):
        parse_questionnaire(_one(label=label))


def _number(**limits):
    raw = _one(type="number", **limits)
    return parse_questionnaire(raw).questions[0]


@pytest.mark.parametrize("raw", ["1e1", "10.0", "+10", "1_0", "inf", "nan", "0x0A", "١٠", "10 ",
                                 "-5", "", "٣", "1,5"])
def test_whole_numbers_are_digits_only(raw: str) -> None:
    question = _number(min=1, max=11)
    if raw == "10 ":  # surrounding spaces are trimmed, as for every answer
        assert question.parse_text(raw, TODAY) == 10
        return
    with pytest.raises(InvalidAnswer):
        question.parse_text(raw, TODAY)


def test_whole_numbers_in_range() -> None:
    question = _number(min=1, max=11)
    assert [question.parse_text(s, TODAY) for s in ("1", "10", "011")] == [1, 10, 11]
    negative = _number(min=-10, max=10)
    assert negative.parse_text("-3", TODAY) == -3
    with pytest.raises(InvalidAnswer):
        negative.parse_text("--3", TODAY)


def test_decimals_take_comma_or_point_but_nothing_else() -> None:
    question = _number(min=30, max=200, integer=False)
    assert question.parse_text("52,5", TODAY) == 52.5
    assert question.parse_text("52.5", TODAY) == 52.5
    assert question.parse_text("52", TODAY) == 52
    for raw in ("5.25e1", "inf", "nan", "5_2", "52.", ".5", "52,5,1", "1" * 400, "-52"):
        with pytest.raises(InvalidAnswer):
            question.parse_text(raw, TODAY)


def test_scale_typed_as_number() -> None:
    scale = parse_questionnaire(_one(type="scale")).questions[0]
    assert scale.parse_text("7", TODAY) == 7
    for raw in ("7.0", "1e1", "-1", "11"):
        with pytest.raises(InvalidAnswer):
            scale.parse_text(raw, TODAY)


def _walks(questionnaire, choose):
    """The counter shown at each question of one walk through a questionnaire."""
    answers: dict = {}
    shown = []
    question = questionnaire.next_after(None, answers)
    while question is not None:
        progress = questionnaire.progress(question.id)
        shown.append((question.id, progress.number, progress.total, progress.follow_up))
        answers[question.id] = choose(question)
        question = questionnaire.next_after(question.id, answers)
    return shown


@pytest.mark.parametrize("option", [0, 1, -1])
def test_progress_never_jumps_or_goes_back(option: int) -> None:
    for questionnaire in default_catalog():
        def choose(question):
            if question.type == "single":
                return question.options[option].id
            if question.type == "multi":
                return [question.options[option].id]
            return True if question.type == "yesno" else 1

        shown = _walks(questionnaire, choose)
        totals = {total for _, _, total, _ in shown}
        assert len(totals) == 1, (questionnaire.id, shown)
        numbers = [number for _, number, _, _ in shown]
        assert numbers[0] == 1 and numbers[-1] == totals.pop(), (questionnaire.id, shown)
        steps = {b - a for a, b in itertools.pairwise(numbers)}
        assert steps <= {0, 1}, (questionnaire.id, shown)
        for question_id, _, _, follow_up in shown:
            assert follow_up == (questionnaire.question(question_id).when is not None)


def test_progress_of_the_qa_report_questionnaire() -> None:
    # was 2/9 → 3/10 → … → 6/11 as "grade" and "subject" appeared
    questionnaire = default_catalog().get("mentee-student-student")
    shown = _walks(questionnaire, lambda q: {
        "study_place": "school", "needs": ["study_results"]
    }.get(q.id, [q.options[0].id] if q.type == "multi" else q.options[0].id
          if q.type == "single" else 1))
    assert [(n, t) for _, n, t, _ in shown] == [
        (1, 9), (2, 9), (2, 9), (3, 9), (4, 9), (4, 9), (5, 9), (6, 9), (7, 9), (8, 9), (9, 9)
    ]
    assert [q for q, *_, follow_up in shown if follow_up] == ["grade", "subject"]
