"""Texts of the reports: the summary, the KPI table, the totals dialog, the targets table and
the deadline reminders. Organisation names are escaped; numbers are ours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from bot.i18n import Translator
from bot.services.reports import KpiRow, Summary
from bot.services.reports.kpi import DENOMINATOR, TOTAL_FIELDS, Kpi
from bot.services.reports.summary import PROGRESS_ORDER
from db.models import OrgTotals, PairStatus, Role


def pct(value: float | None, language: str = "ru") -> str:
    """One decimal at most, with the language's decimal mark: 33,3 (ru), 33.3 (en)."""
    if value is None:
        return "—"
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return text if language == "en" else text.replace(".", ",")


def _people_line(t: Translator, role: str, counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    parts = [t(f"reports.progress.{key}", n=counts[key])
             for key in PROGRESS_ORDER if counts.get(key)]
    return t(f"reports.people_{role}", n=total) + (": " + ", ".join(parts) if parts else "")


def _satisfaction(t: Translator, summary: Summary, role: str) -> str:
    ok, answered = summary.satisfaction.get(role, (0, 0))
    if not answered:
        return t("reports.no_answers")
    return t("reports.share", pct=pct(summary.share(role), t.language), ok=ok, n=answered)


def render_summary(t: Translator, summary: Summary, org_name: str) -> str:
    lines = [t("reports.summary_head", org=escape(org_name)), "", t("reports.people_head")]
    lines += [_people_line(t, role, summary.people.get(role, {}))
              for role in (Role.MENTEE, Role.MENTOR)]
    lines.append(t("reports.curators", n=summary.curators))
    pairs = [t("reports.pair_line", stage=t(f"reports.stage.{status.value}"),
               n=summary.pairs[status])
             for status in PairStatus if summary.pairs.get(status)]
    lines += ["", t("reports.pairs_head", n=sum(summary.pairs.values()))]
    lines.append(", ".join(pairs) if pairs else t("reports.none"))
    lines += [
        "",
        t("reports.meetings_month", n=summary.meetings_month),
        t("reports.idle_pairs", n=summary.idle_pairs, days=summary.idle_days),
        t("reports.presence", paused=summary.paused, unreachable=summary.unreachable),
        t("reports.polls", answered=summary.polls_answered, sent=summary.polls_sent),
        "",
        t("reports.satisfaction_head", threshold=summary.threshold),
        t("reports.satisfaction_mentee", value=_satisfaction(t, summary, Role.MENTEE)),
        t("reports.satisfaction_mentor", value=_satisfaction(t, summary, Role.MENTOR)),
    ]
    return "\n".join(lines)


def _kpi_line(t: Translator, row: KpiRow) -> str:
    name = t(f"reports.kpi.{row.code}")
    target = t("reports.target", target=row.target_pct)
    if row.value_pct is None:
        code = Kpi(row.code)
        missing = (t("reports.kpi_no_total") if code in DENOMINATOR
                   else t("reports.kpi_no_answers"))
        return f"⚪️ <b>{name}</b>: {missing} · {target}"
    mark = "✅" if row.met else "❌"
    verdict = t("reports.met") if row.met else t("reports.not_met")
    return (f"{mark} <b>{name}</b>: {pct(row.value_pct, t.language)} % "
            f"({row.numerator}/{row.denominator}) · {target} · {verdict}")


def render_kpi(t: Translator, rows: Sequence[KpiRow], org_name: str, year: int) -> str:
    lines = [t("reports.kpi_head", org=escape(org_name), year=year), ""]
    lines += [_kpi_line(t, row) for row in rows]
    if any(row.value_pct is None and Kpi(row.code) in DENOMINATOR for row in rows):
        lines += ["", t("reports.kpi_totals_hint")]
    lines += ["", t("reports.kpi_footer")]
    return "\n".join(lines)


def totals_question(t: Translator, index: int, org_name: str, year: int) -> str:
    field = TOTAL_FIELDS[index]
    head = t("reports.totals_head", org=escape(org_name), year=year) if index == 0 else ""
    step = t("reports.totals_step", i=index + 1, n=len(TOTAL_FIELDS))
    question = t(f"reports.totals_ask.{field}")
    return (head + "\n\n" if head else "") + f"{step} {question}"


def totals_table(t: Translator, values: Mapping[str, int | None]) -> str:
    return "\n".join(
        t("reports.totals_line", name=t(f"reports.totals_name.{field}"),
          value=values.get(field) if values.get(field) is not None else "—")
        for field in TOTAL_FIELDS
    )


def totals_confirm(t: Translator, org_name: str, year: int, values: Mapping[str, int]) -> str:
    return "\n".join([t("reports.totals_confirm", org=escape(org_name), year=year),
                      totals_table(t, values)])


def totals_of(row: OrgTotals | None) -> dict[str, int | None]:
    return {field: getattr(row, field) if row is not None else None for field in TOTAL_FIELDS}


def targets_table(
    t: Translator, org_name: str, year: int, targets: Mapping[Kpi, int],
    stored: Sequence[str], can_edit: bool,
) -> str:
    lines = [t("reports.targets_head", org=escape(org_name), year=year), ""]
    for code in Kpi:
        note = "" if code.value in stored else " " + t("reports.targets_default")
        lines.append(f"<code>{code.value}</code> — {t(f'reports.kpi.{code.value}')}: "
                     f"<b>{targets[code]} %</b>{note}")
    lines += ["", t("reports.targets_edit_hint" if can_edit else "reports.targets_view_only")]
    return "\n".join(lines)


def deadline_text(t: Translator, code: str, date_text: str, week_before: bool,
                  org_name: str | None) -> str:
    name = t(f"reports.deadline.{code}")
    key = "reports.deadline_week" if week_before else "reports.deadline_today"
    text = t(key, name=name, date=date_text)
    if org_name is None:
        return text + "\n\n" + t("reports.deadline_coordinator")
    return text + "\n\n" + t("reports.deadline_org", org=escape(org_name))


def quarter_text(t: Translator, quarter: str, org_name: str) -> str:
    year, number = quarter.split("Q")
    return t("reports.quarter_summary", quarter=t(f"reports.quarter.q{number}", year=year),
             org=escape(org_name))
