"""Questionnaires as data: loading the YAML files and checking answers against them.

The schema (every key, with defaults) is documented in one place,
bot/data/questionnaires/README.md, next to the files. Nothing here knows about Telegram or
the database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "questionnaires"
ASSESSMENT_ID = "assessment"
TYPES = {"single", "multi", "text", "number", "scale", "date", "yesno"}
CHOICE_TYPES = {"single", "multi"}
MAX_LABEL = 80
# Digits only: float() would also take "1e1", "inf", "nan" and "1_0".
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(?:[.,][0-9]+)?")
_MAX_DIGITS = 30
Localized = Mapping[str, str]
AnswerValue = str | int | float | bool | list[str] | None


class QuestionnaireFileError(ValueError):
    pass


class InvalidAnswer(ValueError):
    """The input does not fit the question; `key`/`params` name the text to show."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    text: Localized


@dataclass(frozen=True, slots=True)
class Condition:
    question: str
    equals: Any = None
    any_of: tuple[Any, ...] = ()

    def holds(self, answers: Mapping[str, Any]) -> bool:
        if self.question not in answers:
            return False
        value = answers[self.question]
        wanted = self.any_of or (self.equals,)
        if isinstance(value, list):
            return any(v in wanted for v in value)
        return value in wanted


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    type: str
    text: Localized
    label: Localized
    hint: Localized | None = None
    optional: bool = False
    personal: bool = False
    profile: str | None = None
    match: str | None = None
    options: tuple[Option, ...] = ()
    min: float | None = None
    max: float | None = None
    integer: bool = True
    min_length: int = 1
    max_length: int = 500
    min_choices: int = 1
    max_choices: int | None = None
    past_only: bool = False
    future_only: bool = False
    low: Localized | None = None
    high: Localized | None = None
    when: Condition | None = None

    @property
    def is_free_text(self) -> bool:
        return self.type == "text"

    @property
    def stores_personal(self) -> bool:
        return self.personal or self.is_free_text

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    def choices_limit(self) -> int:
        return self.max_choices or len(self.options)

    # -- checking input -------------------------------------------------------------------
    def parse_text(self, raw: str, today: dt.date) -> AnswerValue:
        """Typed input for text, number, date (and scale typed as a number)."""
        raw = raw.strip()
        if self.type == "text":
            length = len(raw)
            if not self.min_length <= length <= self.max_length:
                raise InvalidAnswer("answer.text_length", min=self.min_length, max=self.max_length)
            return raw
        if self.type in ("number", "scale"):
            low, high = (1, 10) if self.type == "scale" else (self.min, self.max)
            integer = self.integer or self.type == "scale"
            number = _number(raw, integer=integer, negative=low is None or low < 0)
            if (
                number is None
                or (low is not None and number < low)
                or (high is not None and number > high)
            ):
                key = "answer.integer_range" if integer else "answer.number_range"
                return _raise(key, min=_fmt(low), max=_fmt(high))
            return number
        if self.type == "date":
            match = re.fullmatch(r"(\d{1,2})[./-](\d{1,2})[./-](\d{4})", raw)
            try:
                if match is None:
                    raise ValueError
                day, month, year = (int(g) for g in match.groups())
                value = dt.date(year, month, day)
            except ValueError:
                raise InvalidAnswer("answer.date_format") from None
            if self.past_only and value > today:
                raise InvalidAnswer("answer.date_past")
            if self.future_only and value < today:
                raise InvalidAnswer("answer.date_future")
            return value.isoformat()
        raise InvalidAnswer("answer.use_buttons")

    def check_choice(self, value: Any) -> AnswerValue:
        """Button input: an option id, a list of ids, a scale point or yes/no."""
        if self.type == "single":
            if not isinstance(value, str) or self.option(value) is None:
                raise InvalidAnswer("answer.use_buttons")
            return value
        if self.type == "multi":
            chosen = [v for v in value if self.option(v) is not None]
            if len(chosen) != len(value) or len(set(chosen)) != len(chosen):
                raise InvalidAnswer("answer.use_buttons")
            if not self.min_choices <= len(chosen) <= self.choices_limit():
                raise InvalidAnswer(
                    "answer.choices_count", min=self.min_choices, max=self.choices_limit()
                )
            order = [o.id for o in self.options]
            return sorted(chosen, key=order.index)
        if self.type == "scale":
            if not isinstance(value, int) or not 1 <= value <= 10:
                raise InvalidAnswer("answer.use_buttons")
            return value
        if self.type == "yesno":
            if not isinstance(value, bool):
                raise InvalidAnswer("answer.use_buttons")
            return value
        raise InvalidAnswer("answer.type_text")


def _number(raw: str, *, integer: bool, negative: bool) -> int | float | None:
    """A whole number (digits, maybe a leading minus) or a decimal with "," or "."."""
    pattern = _INTEGER if integer else _DECIMAL
    if len(raw) > _MAX_DIGITS or not pattern.fullmatch(raw) or (raw[0] == "-" and not negative):
        return None
    return int(raw) if integer else float(raw.replace(",", "."))


def _raise(key: str, **params: Any) -> AnswerValue:
    raise InvalidAnswer(key, **params)


def _fmt(value: float | None) -> str:
    if value is None:
        return "…"
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True, slots=True)
class Progress:
    number: int
    total: int
    follow_up: bool


@dataclass(frozen=True, slots=True)
class Questionnaire:
    id: str
    version: int
    role: str
    forms: tuple[str, ...]
    title: Localized
    intro: Localized | None
    questions: tuple[Question, ...]
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({q.id: i for i, q in enumerate(self.questions)})

    def question(self, question_id: str) -> Question | None:
        index = self._index.get(question_id)
        return None if index is None else self.questions[index]

    def position(self, question_id: str) -> int:
        return self._index[question_id]

    def visible(self, answers: Mapping[str, Any]) -> list[Question]:
        return [q for q in self.questions if q.when is None or q.when.holds(answers)]

    def next_after(self, question_id: str | None, answers: Mapping[str, Any]) -> Question | None:
        start = -1 if question_id is None else self.position(question_id)
        for question in self.questions[start + 1 :]:
            if question.when is None or question.when.holds(answers):
                return question
        return None

    def previous_before(self, question_id: str, answers: Mapping[str, Any]) -> Question | None:
        for question in reversed(self.questions[: self.position(question_id)]):
            if question.when is None or question.when.holds(answers):
                return question
        return None

    def first_missing(
        self, answers: Mapping[str, Any], skipped: Iterable[str] = ()
    ) -> Question | None:
        done = set(answers) | set(skipped)
        return next((q for q in self.visible(answers) if q.id not in done), None)

    def progress(self, question_id: str) -> Progress:
        """Counts only the questions asked whatever the answers (those without `when`), so
        the counter neither jumps nor goes back as follow-ups appear; a follow-up shares the
        number of the question before it."""
        position = self.position(question_id)
        main = [q.when is None for q in self.questions]
        return Progress(
            number=max(1, sum(main[: position + 1])),
            total=sum(main),
            follow_up=not main[position],
        )

    def by_match(self, tag: str) -> Question | None:
        return next((q for q in self.questions if q.match == tag), None)


# -- loading --------------------------------------------------------------------------------
def _localized(node: Any, where: str, *, required: bool = True) -> Localized | None:
    if node is None and not required:
        return None
    if not isinstance(node, dict) or not node.get("ru"):
        raise QuestionnaireFileError(f"{where}: expected a mapping with at least 'ru'")
    return {str(k): str(v) for k, v in node.items()}


def _label(raw: dict[str, Any], text: Localized, where: str) -> Localized:
    """The short name of an answer; by default the first sentence of each question text."""
    if raw.get("label") is None:
        return {lang: first_sentence(value) for lang, value in text.items()}
    label = _localized(raw["label"], f"{where}/label")
    assert label is not None
    for lang, value in label.items():
        if "\n" in value or len(value) > MAX_LABEL:
            raise QuestionnaireFileError(
                f"{where}/label/{lang}: one line of at most {MAX_LABEL} characters"
            )
    return label


def first_sentence(text: str) -> str:
    """The text up to its first ".", "?" or "!" (without a final "."): one line, clipped."""
    match = re.match(r"(.+?[?!.])(?:\s|$)", text.strip(), re.DOTALL)
    sentence = (match.group(1) if match else text.strip()).removesuffix(".")
    sentence = " ".join(sentence.split())
    return sentence if len(sentence) <= MAX_LABEL else sentence[: MAX_LABEL - 1] + "…"


def _question(raw: dict[str, Any], where: str, earlier: dict[str, Question]) -> Question:
    qid = str(raw.get("id", ""))
    if not re.fullmatch(r"[a-z0-9_]+", qid):
        raise QuestionnaireFileError(f"{where}: bad question id {qid!r}")
    where = f"{where}/{qid}"
    qtype = raw.get("type")
    if qtype not in TYPES:
        raise QuestionnaireFileError(f"{where}: unknown type {qtype!r}")
    options = tuple(
        Option(id=str(o["id"]), text=_localized(o.get("text"), f"{where}/{o.get('id')}"))  # type: ignore[arg-type]
        for o in raw.get("options") or ()
    )
    if qtype in CHOICE_TYPES and not options:
        raise QuestionnaireFileError(f"{where}: {qtype} needs options")
    if len({o.id for o in options}) != len(options):
        raise QuestionnaireFileError(f"{where}: duplicate option ids")
    when = None
    if raw.get("when"):
        cond = raw["when"]
        ref = earlier.get(cond.get("question"))
        if ref is None:
            raise QuestionnaireFileError(f"{where}: 'when' must refer to an earlier question")
        when = Condition(
            question=ref.id, equals=cond.get("equals"), any_of=tuple(cond.get("in") or ())
        )
    text = _localized(raw.get("text"), where)
    assert text is not None
    question = Question(
        id=qid,
        type=qtype,
        text=text,
        label=_label(raw, text, where),
        hint=_localized(raw.get("hint"), where, required=False),
        optional=bool(raw.get("optional", False)),
        personal=bool(raw.get("personal", False)),
        profile=raw.get("profile"),
        match=raw.get("match"),
        options=options,
        min=raw.get("min"),
        max=raw.get("max"),
        integer=bool(raw.get("integer", True)),
        min_length=int(raw.get("min_length", 1)),
        max_length=int(raw.get("max_length", 500)),
        min_choices=int(raw.get("min_choices", 1)),
        max_choices=raw.get("max_choices"),
        past_only=bool(raw.get("past_only", False)),
        future_only=bool(raw.get("future_only", False)),
        low=_localized(raw.get("low"), where, required=False),
        high=_localized(raw.get("high"), where, required=False),
        when=when,
    )
    if question.min is not None and question.max is not None and question.min >= question.max:
        raise QuestionnaireFileError(f"{where}: min must be below max")
    return question


def parse(raw: dict[str, Any], source: str = "<data>") -> Questionnaire:
    questions: dict[str, Question] = {}
    for item in raw.get("questions") or ():
        question = _question(item, source, questions)
        if question.id in questions:
            raise QuestionnaireFileError(f"{source}: duplicate question {question.id}")
        questions[question.id] = question
    if not questions:
        raise QuestionnaireFileError(f"{source}: no questions")
    return Questionnaire(
        id=str(raw["id"]),
        version=int(raw.get("version", 1)),
        role=str(raw.get("role", "any")),
        forms=tuple(raw.get("forms") or ()),
        title=_localized(raw.get("title"), source),  # type: ignore[arg-type]
        intro=_localized(raw.get("intro"), source, required=False),
        questions=tuple(questions.values()),
    )


def load_dir(directory: Path) -> dict[str, Questionnaire]:
    found: dict[str, Questionnaire] = {}
    for path in sorted(directory.glob("*.yaml")):
        with open(path, encoding="utf-8") as fh:
            questionnaire = parse(yaml.safe_load(fh), path.name)
        if questionnaire.id in found:
            raise QuestionnaireFileError(f"{path.name}: duplicate questionnaire id")
        found[questionnaire.id] = questionnaire
    return found


class Catalog:
    """All questionnaires of a directory; which one a role and form use."""

    def __init__(self, questionnaires: Mapping[str, Questionnaire]) -> None:
        self._all = dict(questionnaires)

    @classmethod
    def from_dir(cls, directory: Path = DATA_DIR) -> Catalog:
        return cls(load_dir(directory))

    def get(self, questionnaire_id: str) -> Questionnaire | None:
        return self._all.get(questionnaire_id)

    def for_role(self, role: str, form: str) -> Questionnaire | None:
        return next(
            (q for q in self._all.values() if q.role == role and form in q.forms), None
        )

    def assessment(self) -> Questionnaire:
        found = self._all.get(ASSESSMENT_ID)
        if found is None:
            raise QuestionnaireFileError("the assessment questionnaire is missing")
        return found

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._all.values())


@cache
def default_catalog() -> Catalog:
    return Catalog.from_dir(DATA_DIR)
