"""Validates the questionnaire, self-assessment and consent data files.

The file checks use plain YAML only (no project code), so they check the files exactly as
the schema (bot/data/questionnaires/README.md) describes them: structure, types, texts in ru
and en, short labels, conditions, number ranges and the matching vocabulary shared by mentee
and mentor questionnaires of the same form. The tests at the end check the engine against
the same schema: the loader, typed numbers and the progress counter.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import pytest
import yaml

from bot.services.questionnaires import InvalidAnswer, QuestionnaireFileError, default_catalog
from bot.services.questionnaires import parse as parse_questionnaire

ROOT = Path(__file__).resolve().parents[2]
QDIR = ROOT / "bot" / "data" / "questionnaires"
CONSENT = ROOT / "bot" / "data" / "consent.yaml"

FORMS = {
    "student-student",
    "teacher-teacher",
    "teacher-student",
    "student-pupil",
    "employer-pupil",
    "employer-student",
}
ROLES = {"mentee", "mentor", "any"}
TYPES = {"single", "multi", "text", "number", "scale", "date", "yesno"}
LANGS = {"ru", "en"}
MATCH_KEYS = {
    "needs",
    "competences",
    "interests",
    "subject",
    "times",
    "format",
    "experience",
    "capacity",
    "category_detail",
}
# which question types each match key may sit on
MATCH_TYPES = {
    "needs": {"multi"},
    "competences": {"multi"},
    "interests": {"multi"},
    "subject": {"single"},
    "times": {"multi"},
    "format": {"single"},
    "experience": {"number"},
    "capacity": {"number"},
    "category_detail": {"single", "multi"},
}
MENTEE_ONLY = {"needs"}
MENTOR_ONLY = {"competences", "capacity"}
TIMES = {"weekday_morning", "weekday_afternoon", "weekday_evening", "weekend"}
FORMATS = {"online", "offline", "mixed"}
ASSESSMENT_IDS = [
    "engagement",
    "activity",
    "self_esteem",
    "anxiety",
    "motivation",
    "work_satisfaction",
]

FILE_ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
KEY_ID_RE = re.compile(r"^[a-z0-9_]+$")
FORBIDDEN_CHARS = set("<>&")
BRACE_RE = re.compile(r"[{}]")
PLACEHOLDER_RE = re.compile(r"\{org\}")

MAX_OPTION_LEN = 40
MAX_QUESTION_LEN = 300
MAX_HINT_LEN = 300
MAX_INTRO_LEN = 600
MAX_TITLE_LEN = 100
MAX_LABEL_LEN = 80
MAX_CONSENT_LEN = 3500

COMMON_KEYS = {"id", "type", "text", "label", "hint", "optional", "personal", "when", "match", "profile"}
TYPE_KEYS = {
    "text": {"min_length", "max_length"},
    "number": {"min", "max", "integer"},
    "single": {"options"},
    "multi": {"options", "min_choices", "max_choices"},
    "scale": {"low", "high"},
    "date": {"past_only", "future_only"},
    "yesno": set(),
}
TOP_KEYS = {"id", "version", "role", "forms", "title", "intro", "questions"}


def _load(path: Path):
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


QFILES = sorted(QDIR.glob("*.yaml"))
QDATA = {p.name: _load(p) for p in QFILES}


def _check_plain(s: str, where: str, allow_org: bool = False) -> None:
    bad = FORBIDDEN_CHARS & set(s)
    assert not bad, f"{where}: forbidden characters {sorted(bad)}"
    rest = PLACEHOLDER_RE.sub("", s) if allow_org else s
    assert not BRACE_RE.search(rest), f"{where}: braces other than the documented placeholders"


def _check_i18n(value, where: str, max_len: int | None = None, allow_org: bool = False) -> None:
    assert isinstance(value, dict), f"{where}: must be a mapping with ru and en"
    assert set(value) == LANGS, f"{where}: languages {sorted(value)} instead of ru, en"
    for lang in sorted(LANGS):
        s = value[lang]
        assert isinstance(s, str) and s.strip(), f"{where}.{lang}: empty or not a string"
        assert s == s.strip() or s.endswith("\n"), f"{where}.{lang}: stray whitespace"
        if max_len is not None:
            assert len(s) <= max_len, f"{where}.{lang}: {len(s)} characters, max {max_len}"
        _check_plain(s, f"{where}.{lang}", allow_org=allow_org)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _option_ids(question: dict) -> list[str]:
    return [o["id"] for o in question.get("options", [])]


def _by_match(data: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for q in data["questions"]:
        if "match" in q:
            out.setdefault(q["match"], []).append(q)
    return out


def _validate_question(q: dict, where: str, earlier: dict[str, dict]) -> None:
    assert isinstance(q, dict), f"{where}: question must be a mapping"
    qid = q.get("id")
    assert isinstance(qid, str) and KEY_ID_RE.match(qid), f"{where}: bad question id {qid!r}"
    where = f"{where}:{qid}"
    qtype = q.get("type")
    assert qtype in TYPES, f"{where}: unknown type {qtype!r}"
    extra = set(q) - COMMON_KEYS - TYPE_KEYS[qtype]
    assert not extra, f"{where}: keys {sorted(extra)} are not allowed for type {qtype}"

    _check_i18n(q.get("text"), f"{where}.text", MAX_QUESTION_LEN)
    # the short name shown beside the answer in /me, cards and exports
    _check_i18n(q.get("label"), f"{where}.label", MAX_LABEL_LEN)
    for lang in sorted(LANGS):
        label = q["label"][lang]
        assert "\n" not in label, f"{where}.label.{lang}: one line"
        assert label != q["text"][lang] or len(label) <= 40, (
            f"{where}.label.{lang}: a short name, not the question with its instruction"
        )
    if "hint" in q:
        _check_i18n(q["hint"], f"{where}.hint", MAX_HINT_LEN)
    for flag in ("optional", "personal"):
        if flag in q:
            assert isinstance(q[flag], bool), f"{where}: {flag} must be true or false"
    if "profile" in q:
        assert q["profile"] == "full_name", f"{where}: only profile: full_name is supported"
        assert qtype == "text", f"{where}: profile field must be a text question"

    if qtype == "text":
        lo = q.get("min_length", 1)
        hi = q.get("max_length", 500)
        assert _is_int(lo) and _is_int(hi), f"{where}: min_length/max_length must be integers"
        assert 1 <= lo < hi, f"{where}: need 1 <= min_length < max_length"
    elif qtype == "number":
        assert "min" in q and "max" in q, f"{where}: number needs min and max"
        integer = q.get("integer", True)
        assert isinstance(integer, bool), f"{where}: integer must be true or false"
        for k in ("min", "max"):
            v = q[k]
            assert isinstance(v, (int, float)) and not isinstance(v, bool), f"{where}: {k}"
            if integer:
                assert _is_int(v), f"{where}: {k} must be an integer for integer questions"
        assert q["min"] < q["max"], f"{where}: min must be less than max"
    elif qtype in ("single", "multi"):
        opts = q.get("options")
        assert isinstance(opts, list) and opts, f"{where}: options must be a non-empty list"
        assert len(opts) >= 2, f"{where}: a choice needs at least two options"
        ids = []
        for i, o in enumerate(opts):
            assert isinstance(o, dict) and set(o) == {"id", "text"}, f"{where}: option {i}"
            oid = o["id"]
            assert isinstance(oid, str) and KEY_ID_RE.match(oid), f"{where}: option id {oid!r}"
            _check_i18n(o["text"], f"{where}.{oid}", MAX_OPTION_LEN)
            ids.append(oid)
        assert len(ids) == len(set(ids)), f"{where}: duplicate option ids"
        if qtype == "multi":
            lo = q.get("min_choices", 1)
            hi = q.get("max_choices", len(opts))
            assert _is_int(lo) and _is_int(hi), f"{where}: min/max_choices must be integers"
            assert 1 <= lo <= hi <= len(opts), f"{where}: need 1 <= min <= max <= options"
    elif qtype == "scale":
        for k in ("low", "high"):
            if k in q:
                _check_i18n(q[k], f"{where}.{k}", MAX_OPTION_LEN)
    elif qtype == "date":
        for k in ("past_only", "future_only"):
            if k in q:
                assert isinstance(q[k], bool), f"{where}: {k} must be true or false"
        assert not (q.get("past_only") and q.get("future_only")), f"{where}: past and future"

    if "when" in q:
        cond = q["when"]
        assert isinstance(cond, dict), f"{where}: when must be a mapping"
        ref = cond.get("question")
        assert ref in earlier, f"{where}: when refers to {ref!r}, not an earlier question"
        target = earlier[ref]
        keys = set(cond) - {"question"}
        assert len(keys) == 1 and keys <= {"equals", "in"}, f"{where}: when needs equals or in"
        if target["type"] == "yesno":
            assert "equals" in cond and isinstance(cond["equals"], bool), (
                f"{where}: a condition on a yes/no question needs equals: true/false"
            )
        elif target["type"] in ("single", "multi"):
            valid = set(_option_ids(target))
            values = cond["in"] if "in" in cond else [cond["equals"]]
            assert isinstance(values, list) and values, f"{where}: when.in must be a list"
            unknown = set(values) - valid
            assert not unknown, f"{where}: when values {sorted(unknown)} are not options of {ref}"
        else:
            pytest.fail(f"{where}: when may only refer to yesno, single or multi questions")

    if "match" in q:
        key = q["match"]
        assert key in MATCH_KEYS, f"{where}: unknown match key {key!r}"
        assert qtype in MATCH_TYPES[key], f"{where}: match {key} cannot be on a {qtype}"


def test_files_exist():
    names = {p.name for p in QFILES}
    assert "assessment.yaml" in names
    assert len(QFILES) >= 9
    assert CONSENT.exists()


@pytest.mark.parametrize("name", sorted(QDATA))
def test_questionnaire_schema(name):
    data = QDATA[name]
    assert isinstance(data, dict), name
    extra = set(data) - TOP_KEYS
    assert not extra, f"{name}: unknown top-level keys {sorted(extra)}"
    qid = data.get("id")
    assert isinstance(qid, str) and FILE_ID_RE.match(qid), f"{name}: bad id {qid!r}"
    assert name == f"{qid}.yaml", f"{name}: file name must be the questionnaire id"
    assert _is_int(data.get("version")) and data["version"] >= 1, f"{name}: version"
    role = data.get("role")
    assert role in ROLES, f"{name}: role {role!r}"
    forms = data.get("forms") or []
    assert isinstance(forms, list), f"{name}: forms must be a list"
    assert len(forms) == len(set(forms)), f"{name}: duplicate forms"
    assert set(forms) <= FORMS, f"{name}: unknown forms {sorted(set(forms) - FORMS)}"
    if role == "any":
        assert not forms, f"{name}: role any takes no forms"
    else:
        assert forms, f"{name}: a {role} questionnaire must name its forms"
    _check_i18n(data.get("title"), f"{name}.title", MAX_TITLE_LEN)
    _check_i18n(data.get("intro"), f"{name}.intro", MAX_INTRO_LEN)

    questions = data.get("questions")
    assert isinstance(questions, list) and questions, f"{name}: questions"
    if role != "any":
        assert 8 <= len(questions) <= 14, f"{name}: {len(questions)} questions, want 8-14"
    earlier: dict[str, dict] = {}
    for i, q in enumerate(questions):
        _validate_question(q, f"{name}#{i}", earlier)
        assert q["id"] not in earlier, f"{name}: duplicate question id {q['id']}"
        earlier[q["id"]] = q

    profiles = [q for q in questions if "profile" in q]
    assert len(profiles) <= 1, f"{name}: profile field set more than once"

    by_match = _by_match(data)
    for key, qs in by_match.items():
        assert len(qs) == 1, f"{name}: more than one question with match {key}"
        if role == "mentee":
            assert key not in MENTOR_ONLY, f"{name}: match {key} is for mentor questionnaires"
        if role == "mentor":
            assert key not in MENTEE_ONLY, f"{name}: match {key} is for mentee questionnaires"
        if role == "any":
            pytest.fail(f"{name}: role any questionnaires take no match keys")
    if "times" in by_match:
        assert set(_option_ids(by_match["times"][0])) == TIMES, f"{name}: time vocabulary"
    if "format" in by_match:
        assert set(_option_ids(by_match["format"][0])) == FORMATS, f"{name}: format vocabulary"


def test_questionnaire_ids_unique():
    ids = [d["id"] for d in QDATA.values()]
    assert len(ids) == len(set(ids)), f"duplicate questionnaire ids: {ids}"


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
