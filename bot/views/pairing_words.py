"""Pairing reasons and answers in words, for the curator's cards and the introductions.

Option ids become the option texts of the questionnaires the two people answered.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.i18n import Translator
from bot.services.matching import Reason
from bot.services.pairing import Person, questionnaire_of
from bot.services.questionnaires import Catalog, Questionnaire

CAVEATS = frozenset(
    {
        "needs_not_covered",
        "different_subject",
        "no_common_time",
        "format_mismatch",
        "too_little_experience",
        "form_mismatch",
    }
)


def _option_words(
    t: Translator, questionnaires: Iterable[Questionnaire | None], tag: str, items: Iterable[str]
) -> list[str]:
    words = []
    for item in items:
        text = item
        for questionnaire in questionnaires:
            question = questionnaire.by_match(tag) if questionnaire else None
            option = question.option(item) if question else None
            if option is not None:
                text = t.pick(dict(option.text))
                break
        words.append(text)
    return words


def _quoted(words: Iterable[str]) -> str:
    return ", ".join(f"«{w}»" for w in words)


def describe_reasons(
    t: Translator,
    catalog: Catalog,
    reasons: Iterable[Reason],
    mentee: Person,
    mentor: Person,
) -> list[tuple[bool, str]]:
    """Reasons in words: (is a caveat, plain text). Option ids become the option texts of
    the questionnaires the two people answered."""
    tee_q, tor_q = questionnaire_of(catalog, mentee), questionnaire_of(catalog, mentor)
    out: list[tuple[bool, str]] = []
    for reason in reasons:
        items = reason.items
        params: dict[str, str] = {}
        if reason.code in ("covers_needs", "needs_not_covered"):
            params["items"] = _quoted(_option_words(t, (tee_q, tor_q), "needs", items))
        elif reason.code == "shared_interests":
            params["items"] = _quoted(_option_words(t, (tee_q, tor_q), "interests", items))
        elif reason.code == "same_subject":
            params["items"] = _quoted(_option_words(t, (tee_q, tor_q), "subject", items))
        elif reason.code == "different_subject" and len(items) == 2:
            params["mentee"] = _quoted(_option_words(t, (tee_q,), "subject", items[:1]))
            params["mentor"] = _quoted(_option_words(t, (tor_q, tee_q), "subject", items[1:]))
        elif reason.code == "times_overlap":
            params["items"] = ", ".join(_option_words(t, (tee_q, tor_q), "times", items))
        elif reason.code == "format_fit":
            params["items"] = ", ".join(_option_words(t, (tee_q, tor_q), "format", items))
        elif reason.code == "format_mismatch" and len(items) == 2:
            params["mentee"] = _option_words(t, (tee_q,), "format", items[:1])[0]
            params["mentor"] = _option_words(t, (tor_q,), "format", items[1:])[0]
        elif reason.code == "form_mismatch":
            params["items"] = ", ".join(
                t(f"form.{i}") if t.has(f"form.{i}") else i for i in items
            )
        key = f"matching.reason.{reason.code}"
        text = t(key, **params) if t.has(key) else reason.code
        out.append((reason.code in CAVEATS, text))
    return out


def answer_words(
    t: Translator, catalog: Catalog, person: Person, tag: str, limit: int = 5
) -> str | None:
    """A tagged choice answer in words (the first `limit` options), or None."""
    questionnaire = questionnaire_of(catalog, person)
    question = questionnaire.by_match(tag) if questionnaire else None
    if question is None:
        return None
    value = person.answers.get(question.id)
    if value is None:
        return None
    if question.type in ("single", "multi"):
        items = [value] if isinstance(value, str) else list(value)
        words = _option_words(t, (questionnaire,), tag, items[:limit])
        return ", ".join(words) + (" …" if len(items) > limit else "")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)

