"""/swot: the first monitoring stage's SWOT analysis (seed 000: "По результатам опроса ...
будет предоставлен SWOT-анализ ... SWOT-анализ проводит координатор программы"), built from
the process-quality questionnaire of the pairs (bot/data/polls/poll-process.yaml) and the
curators' questionnaire (bot/data/reports/monitoring-curator.yaml).

Which answer goes to which quadrant is our own design (`ITEMS`, `QUOTES`; the README has the
table). Every finished questionnaire of the organisation counts; answers that are not
personal stay after /forget, so the counts do too, while quotes (free texts) are erased with
the person and never carry a name. Plain Python: no aiogram, no texts, never commits.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from db.queries import report_stats as q

PROCESS = "poll-process"
CURATOR = "monitoring-curator"
MAX_QUOTES = 15  # per (questionnaire, question): the latest ones
HIGH = (8, 10)
MIDDLE = (5, 7)
LOW = (1, 4)


class Quadrant(StrEnum):
    STRENGTHS = "s"
    WEAKNESSES = "w"
    OPPORTUNITIES = "o"
    THREATS = "t"


@dataclass(frozen=True, slots=True)
class Item:
    """One line of a quadrant: the answers to a question that count for it: chosen options
    (`options`; a multiple choice counts once per option chosen) or a range of a 1-10
    scale (`scale`, inclusive)."""

    key: str  # text key swot.item.<key>
    quadrant: Quadrant
    questionnaire: str
    question: str
    options: frozenset[str] = frozenset()
    scale: tuple[int, int] | None = None

    def counts(self, value: object) -> int:
        if self.scale is not None:
            lo, hi = self.scale
            return int(isinstance(value, int) and not isinstance(value, bool)
                       and lo <= value <= hi)
        if isinstance(value, list):
            return sum(1 for v in value if v in self.options)
        return int(value in self.options)


S, W, OPP, T = (Quadrant.STRENGTHS, Quadrant.WEAKNESSES, Quadrant.OPPORTUNITIES,
              Quadrant.THREATS)


def _option(key: str, quadrant: Quadrant, question: str, *options: str) -> Item:
    return Item(key, quadrant, PROCESS, question, options=frozenset(options))


def _scale(key: str, quadrant: Quadrant, questionnaire: str, question: str,
           span: tuple[int, int]) -> Item:
    return Item(key, quadrant, questionnaire, question, scale=span)


ITEMS: tuple[Item, ...] = (
    # Strengths: what works inside the programme.
    _option("meetings_as_planned", S, "meetings", "as_planned"),
    _scale("support_high", S, PROCESS, "support", HIGH),
    _option("nothing_hinders", S, "difficulties", "nothing"),
    _scale("organisation_high", S, CURATOR, "organisation", HIGH),
    _scale("pairs_high", S, CURATOR, "pairs_quality", HIGH),
    _scale("mentors_high", S, CURATOR, "mentors_ready", HIGH),
    # Weaknesses: what fails inside the programme.
    _option("meetings_rarely", W, "meetings", "rarely"),
    _scale("support_low", W, PROCESS, "support", LOW),
    _option("unclear_goals", W, "difficulties", "goals"),
    _option("hard_to_agree", W, "difficulties", "contact"),
    _scale("organisation_low", W, CURATOR, "organisation", LOW),
    _scale("pairs_low", W, CURATOR, "pairs_quality", LOW),
    _scale("mentors_low", W, CURATOR, "mentors_ready", LOW),
    # Opportunities: middling answers, where improvement is within reach.
    _option("meetings_sometimes", OPP, "meetings", "sometimes_missed"),
    _scale("support_middle", OPP, PROCESS, "support", MIDDLE),
    _scale("organisation_middle", OPP, CURATOR, "organisation", MIDDLE),
    _scale("pairs_middle", OPP, CURATOR, "pairs_quality", MIDDLE),
    _scale("mentors_middle", OPP, CURATOR, "mentors_ready", MIDDLE),
    # Threats: conditions from outside the pair's work (time, premises).
    _option("no_time", T, "difficulties", "time"),
    _option("no_place", T, "difficulties", "place"),
)
# Threats also count the process questionnaires closed without an answer (disengagement).
UNANSWERED = "unanswered"

# Free-text answers quoted under a quadrant: (questionnaire, question).
QUOTES: dict[Quadrant, tuple[tuple[str, str], ...]] = {
    S: ((CURATOR, "strengths"),),
    W: ((CURATOR, "difficulties"),),
    OPP: ((PROCESS, "comment"), (CURATOR, "improvements")),
    T: (),
}


@dataclass(frozen=True, slots=True)
class Quote:
    role: str
    text: str


@dataclass(slots=True)
class Swot:
    organisation_id: int
    # role -> finished process questionnaires; curators' questionnaires
    respondents: dict[str, int] = field(default_factory=dict)
    curators: int = 0
    # quadrant -> [(item key, count)], counts > 0, the largest first (ties: ITEMS order)
    lines: dict[Quadrant, list[tuple[str, int]]] = field(default_factory=dict)
    quotes: dict[Quadrant, list[Quote]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not sum(self.respondents.values()) and not self.curators and not any(
            self.lines.values())


def _questions(questionnaire: str) -> Collection[str]:
    return {i.question for i in ITEMS if i.questionnaire == questionnaire}


async def swot(session: AsyncSession, organisation_id: int) -> Swot:
    result = Swot(organisation_id)
    result.respondents = await q.respondents(session, organisation_id, PROCESS)
    result.curators = sum((await q.respondents(session, organisation_id, CURATOR)).values())
    totals = {item.key: 0 for item in ITEMS}
    for questionnaire in (PROCESS, CURATOR):
        rows = await q.answer_counts(
            session, organisation_id, questionnaire, _questions(questionnaire)
        )
        for _, question, text, n in rows:
            value = q.decode(text)
            for item in ITEMS:
                if item.questionnaire == questionnaire and item.question == question:
                    totals[item.key] += item.counts(value) * n
    unanswered = await q.closed_unanswered(session, organisation_id, PROCESS)
    order = {item.key: i for i, item in enumerate(ITEMS)}
    for quadrant in Quadrant:
        lines = [(i.key, totals[i.key]) for i in ITEMS if i.quadrant == quadrant]
        if quadrant == T:
            lines.append((UNANSWERED, unanswered))
        lines = [line for line in lines if line[1] > 0]
        lines.sort(key=lambda line: (-line[1], order.get(line[0], len(order))))
        result.lines[quadrant] = lines
        quotes: list[Quote] = []
        for questionnaire, question in QUOTES[quadrant]:
            found = await q.quotes(session, organisation_id, questionnaire, question, MAX_QUOTES)
            quotes += [Quote(role, text) for role, text in found]
        result.quotes[quadrant] = quotes
    return result
