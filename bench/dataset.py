"""A region-sized database for benchmarks: ``python -m bench.dataset --participants 100000 PATH``.

Organisations (about 400 participants each) with one programme, mentees and mentors with
their consents and finished questionnaires (onboarding and entry self-assessment, real
question ids and valid answers), curators, approved pairs (one per two participants: 50,000
for 100,000) with their status history, ten meetings each (seven held and logged in the
journal, one confirmed, two proposed: 500,000), four poll answers each (both sides after the
introduction and after planning: 200,000), plans with two goals for half of them, the exit
self-assessment and the full-cycle mark for a fifth of the mentees. Written with bulk Core
inserts in one transaction: 100,000 participants take about a minute.

`prepared_database(path, n)` gives a migrated database with n such participants (0: empty),
copying a cached build from the temp directory when there is one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, insert, update
from sqlalchemy.engine import Connection

from bot.services.consent import load_document
from bot.services.questionnaires import Catalog, Question, default_catalog
from db.migrate import upgrade_to_head
from db.models import (
    Answer,
    Consent,
    Meeting,
    Membership,
    Organisation,
    Pair,
    PairEvent,
    Participant,
    Plan,
    PlanGoal,
    Programme,
    QuestionnaireResponse,
    SurveyResponse,
)

PER_ORG = 400
MENTOR_SHARE = 0.3
FORMS = ("student-student", "teacher-student", "teacher-teacher", "student-pupil")
CATEGORY = {
    ("mentee", "student-student"): "student",
    ("mentee", "teacher-student"): "student",
    ("mentee", "teacher-teacher"): "teacher",
    ("mentee", "student-pupil"): "pupil",
    ("mentor", "student-student"): "student",
    ("mentor", "teacher-student"): "teacher",
    ("mentor", "teacher-teacher"): "teacher",
    ("mentor", "student-pupil"): "student",
}
FIRST_TELEGRAM_ID = 100_000_000
CHUNK = 20_000
SCHEMA_TAG = "0008r"  # rebuild the cache when the schema or the dataset moves on
MENTOR_CAPACITY = 3
PAIRS_PER_PARTICIPANT = 0.5
MEETINGS_PER_PAIR = 10
HELD_PER_PAIR = 7
MEETING_KINDS = ("intro", "trial", "planning", *["regular"] * 6, "final")
POLLS = (("poll-intro", "intro"), ("poll-planning", "planning"))


def _value(question: Question, rng: random.Random) -> Any:
    if question.type == "single":
        return rng.choice(question.options).id
    if question.type == "multi":
        k = rng.randint(1, min(3, question.choices_limit()))
        order = [o.id for o in question.options]
        return sorted(rng.sample(order, k), key=order.index)
    if question.type == "scale":
        return rng.randint(1, 10)
    if question.type == "yesno":
        return rng.random() < 0.5
    if question.type == "number":
        low = int(question.min if question.min is not None else 1)
        high = int(question.max if question.max is not None else low + 10)
        return rng.randint(low, high)
    if question.type == "date":
        return "2025-09-01"
    return f"Ответ {rng.randint(1, 10**6)}"[: question.max_length]


def _answers(questions: tuple[Question, ...], rng: random.Random) -> list[tuple[Question, Any]]:
    given: dict[str, Any] = {}
    out = []
    for question in questions:
        if question.when is not None and not question.when.holds(given):
            continue
        if question.optional and rng.random() < 0.3:
            continue
        given[question.id] = _value(question, rng)
        out.append((question, given[question.id]))
    return out


class _Batch:
    """Rows per table, flushed in chunks with executemany."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rows: dict[Table, list[dict[str, Any]]] = {}

    def add(self, table: Table, row: dict[str, Any]) -> None:
        rows = self.rows.setdefault(table, [])
        rows.append(row)
        if len(rows) >= CHUNK:
            self.flush(table)

    def flush(self, table: Table | None = None) -> None:
        for name in [table] if table is not None else list(self.rows):
            rows = self.rows.pop(name, [])
            if rows:
                self.conn.execute(insert(name), rows)


def _cycle(
    batch: _Batch, t: dict[str, Table], rng: random.Random, now: dt.datetime, pair: int,
    mentee: int, mentor: int, mentee_person: int, ids: tuple[Iterator[int], ...],
    counts: dict[str, int],
) -> None:
    """A pair's meetings (the journal), poll answers and, for half of the pairs, a plan."""
    meeting_ids, survey_ids, plan_ids, goal_ids = ids
    for n, kind in enumerate(MEETING_KINDS[:MEETINGS_PER_PAIR]):
        held = n < HELD_PER_PAIR
        starts = now + dt.timedelta(days=7 * (n - HELD_PER_PAIR))
        batch.add(t["Meeting"], {
            "id": next(meeting_ids), "pair_id": pair, "kind": kind,
            "status": "held" if held else ("confirmed" if n == HELD_PER_PAIR else "proposed"),
            "starts_at": starts, "duration_minutes": 60, "place": "Кабинет 12",
            "proposed_by": mentee_person, "created_at": now, "updated_at": now,
            "logged_at": starts + dt.timedelta(hours=2) if held else None,
            "actual_minutes": rng.choice((45, 60, 75)) if held else None,
            "topics": f"Тема встречи {n + 1}" if held else None,
            "next_steps": "Подготовить вопросы" if held else None,
        })  # fmt: skip
        counts["meetings"] += 1
    for survey, milestone in POLLS:
        for membership in (mentee, mentor):
            satisfaction = rng.randint(1, 10)
            batch.add(t["SurveyResponse"], {
                "id": next(survey_ids), "survey_id": survey, "survey_version": 1,
                "membership_id": membership, "pair_id": pair, "milestone": milestone,
                "answers": {"comfort": satisfaction, "fit": "good_fit"},
                "satisfaction": satisfaction if milestone == "planning" else None,
                "sent_at": now, "submitted_at": now,
            })  # fmt: skip
            counts["poll_answers"] += 1
    if pair % 2:
        plan = next(plan_ids)
        batch.add(t["Plan"], {"id": plan, "pair_id": pair, "created_at": now,
                              "updated_at": now})
        for position in (1, 2):
            batch.add(t["PlanGoal"], {
                "id": next(goal_ids), "plan_id": plan, "position": position,
                "title": f"Цель {position}", "progress": rng.choice((0, 25, 50, 100)),
                "created_at": now, "updated_at": now,
            })  # fmt: skip
            counts["goals"] += 1


def _ids() -> Iterator[int]:
    n = 0
    while True:
        n += 1
        yield n


def fill(url: str, participants: int, *, seed: int = 11) -> dict[str, int]:
    """Write the dataset into an empty migrated database (sync SQLAlchemy URL)."""
    rng = random.Random(seed)
    catalog: Catalog = default_catalog()
    version = load_document().version
    now = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
    start = dt.date(2026, 9, 1)
    engine = create_engine(url)
    counts = {"participants": 0, "answers": 0, "pairs": 0, "meetings": 0, "poll_answers": 0,
              "goals": 0}
    t: dict[str, Table] = {
        m.__name__: m.__table__  # type: ignore[misc]
        for m in (Organisation, Programme, Participant, Membership, Consent,
                  QuestionnaireResponse, Answer, Pair, PairEvent, Meeting, SurveyResponse,
                  Plan, PlanGoal)
    }  # fmt: skip
    member_ids, response_ids, answer_ids = _ids(), _ids(), _ids()
    pair_ids, event_ids, meeting_ids = _ids(), _ids(), _ids()
    survey_ids, plan_ids, goal_ids = _ids(), _ids(), _ids()
    pairs_wanted = int(participants * PAIRS_PER_PARTICIPANT)
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        batch = _Batch(conn)
        orgs = max(1, participants // PER_ORG)
        person = 0
        full_cycle: list[int] = []
        for org in range(1, orgs + 1):
            batch.add(t["Organisation"], {
                "id": org, "name": f"Организация {org}", "timezone": "Europe/Moscow",
                "created_at": now,
            })  # fmt: skip
            batch.add(t["Programme"], {
                "id": org, "organisation_id": org, "name": "Наставничество", "forms": list(FORMS),
                "start_date": start, "end_date": dt.date(2027, 5, 31), "created_at": now,
            })  # fmt: skip
            size = participants // orgs + (1 if org <= participants % orgs else 0)
            mentors: dict[str, list[int]] = {}
            mentees: dict[str, list[tuple[int, int]]] = {}
            for k in range(size):
                person += 1
                role = "curator" if k == 0 else (
                    "mentor" if rng.random() < MENTOR_SHARE else "mentee"
                )
                form = None if role == "curator" else rng.choice(FORMS)
                batch.add(t["Participant"], {
                    "id": person, "telegram_id": FIRST_TELEGRAM_ID + person, "language": "ru",
                    "full_name": f"Участник {person}", "age_group": "adult", "status": "active",
                    "created_at": now,
                })  # fmt: skip
                membership = next(member_ids)
                batch.add(t["Membership"], {
                    "id": membership, "participant_id": person, "organisation_id": org,
                    "programme_id": None if role == "curator" else org, "role": role,
                    "form": form, "category": CATEGORY.get((role, form or "")),
                    "status": "in_base",
                    "capacity": MENTOR_CAPACITY if role == "mentor" else 1,
                    "load": 0, "confirmed_at": now if role == "curator" else None,
                    "created_at": now, "updated_at": now,
                })  # fmt: skip
                batch.add(t["Consent"], {
                    "participant_id": person, "organisation_id": org,
                    "membership_id": membership, "kind": "self", "decision": "accepted",
                    "version": version, "created_at": now,
                })  # fmt: skip
                if role == "curator" or form is None:
                    continue
                questionnaire = catalog.for_role(role, form)
                assert questionnaire is not None
                for q, stage in ((questionnaire, "onboarding"), (catalog.assessment(), "entry")):
                    response = next(response_ids)
                    batch.add(t["QuestionnaireResponse"], {
                        "id": response, "membership_id": membership, "questionnaire_id": q.id,
                        "questionnaire_version": q.version, "stage": stage, "status": "done",
                        "started_at": now, "completed_at": now,
                    })  # fmt: skip
                    for question, value in _answers(q.questions, rng):
                        batch.add(t["Answer"], {
                            "id": next(answer_ids), "response_id": response,
                            "question_id": question.id, "value": value,
                            "is_personal": question.stores_personal, "answered_at": now,
                        })  # fmt: skip
                        counts["answers"] += 1
                if role == "mentor":
                    mentors.setdefault(form, []).append(membership)
                else:
                    mentees.setdefault(form, []).append((membership, person))
            quota = pairs_wanted // orgs + (1 if org <= pairs_wanted % orgs else 0)
            matched = []
            for form, people in mentees.items():
                available = [m for m in mentors.get(form, []) for _ in range(MENTOR_CAPACITY)]
                rng.shuffle(available)
                matched += [(form, mentee, mentor) for mentee, mentor
                            in zip(people, available, strict=False)]
            rng.shuffle(matched)
            for form, (mentee, mentee_person), mentor in matched[:quota]:
                pair = next(pair_ids)
                status = rng.choice(("approved", "intro", "trial", "planning", "regular"))
                batch.add(t["Pair"], {
                    "id": pair, "programme_id": org, "mentor_membership_id": mentor,
                    "mentee_membership_id": mentee, "form": form, "status": status,
                    "score": round(rng.random(), 3), "reasons": [], "decided_at": now,
                    "next_check_at": now + dt.timedelta(days=10), "created_at": now,
                })  # fmt: skip
                for before, after in ((None, "proposed"), ("proposed", "approved")):
                    batch.add(t["PairEvent"], {
                        "id": next(event_ids), "pair_id": pair, "from_status": before,
                        "to_status": after, "at": now,
                    })  # fmt: skip
                _cycle(batch, t, rng, now, pair, mentee, mentor, mentee_person,
                       (meeting_ids, survey_ids, plan_ids, goal_ids), counts)
                if rng.random() < 0.2:  # the exit self-assessment and the full cycle
                    assessment = catalog.assessment()
                    response = next(response_ids)
                    batch.add(t["QuestionnaireResponse"], {
                        "id": response, "membership_id": mentee,
                        "questionnaire_id": assessment.id,
                        "questionnaire_version": assessment.version, "stage": "exit",
                        "status": "done", "started_at": now, "completed_at": now,
                    })  # fmt: skip
                    for question, value in _answers(assessment.questions, rng):
                        batch.add(t["Answer"], {
                            "id": next(answer_ids), "response_id": response,
                            "question_id": question.id, "value": value,
                            "is_personal": False, "answered_at": now,
                        })  # fmt: skip
                        counts["answers"] += 1
                    full_cycle.append(mentee)
                counts["pairs"] += 1
        batch.flush()
        for start_at in range(0, len(full_cycle), 5000):
            conn.execute(
                update(t["Membership"])
                .where(t["Membership"].c.id.in_(full_cycle[start_at:start_at + 5000]))
                .values(full_cycle_at=now)
            )
        # Mentor load follows their approved pairs (the CHECK load <= capacity holds).
        conn.exec_driver_sql(
            "UPDATE memberships SET load = (SELECT count(*) FROM pairs"
            " WHERE pairs.mentor_membership_id = memberships.id), status = 'paired'"
            " WHERE role = 'mentor' AND id IN (SELECT mentor_membership_id FROM pairs)"
        )
        conn.exec_driver_sql(
            "UPDATE memberships SET status = 'paired'"
            " WHERE id IN (SELECT mentee_membership_id FROM pairs)"
        )
        counts["participants"] = person
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return counts


def build(path: Path, participants: int) -> dict[str, int]:
    path.unlink(missing_ok=True)
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return fill(f"sqlite:///{path}", participants) if participants else {}


def prepared_database(path: Path, participants: int) -> None:
    """A migrated database at `path` holding the dataset (cached between runs)."""
    if not participants:
        upgrade_to_head(f"sqlite+aiosqlite:///{path}")
        return
    cached = Path(tempfile.gettempdir()) / f"nastavnik-dataset-{SCHEMA_TAG}-{participants}.db"
    if not cached.exists():
        started = time.perf_counter()
        partial = cached.with_suffix(".partial")
        counts = build(partial, participants)
        partial.rename(cached)
        print(f"dataset built in {time.perf_counter() - started:.1f}s: {counts}",
              file=sys.stderr)
    shutil.copy(cached, path)
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--participants", type=int, default=100_000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = build(args.path, args.participants)
    print(json.dumps({**counts, "seconds": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
