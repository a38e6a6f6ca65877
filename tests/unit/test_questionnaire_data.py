"""Validates the questionnaire, self-assessment and consent data files.

The file checks use plain YAML only (no project code), so they check the files exactly as
the schema (bot/data/questionnaires/README.md) describes them: structure, types, texts in ru
and en, short labels, conditions, number ranges and the matching vocabulary shared by mentee
and mentor questionnaires of the same form. The tests at the end check the engine against
the same schema: the loader, typed numbers and the progress counter.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

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
