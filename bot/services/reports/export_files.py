"""Writing the export's sheets to files: an .xlsx workbook (streamed: rows go straight into
the archive, nothing is kept; bot/services/reports/export_xlsx.py) or one sheet as CSV (UTF-8
with a BOM, so Excel opens Cyrillic; `;`-separated, as Excel expects in a Russian locale).

Titles and codes are worded by the `Labels` the caller gives (the worker builds them from the
translator). Text a person typed never becomes a formula: in the workbook it is an inline
string, in CSV a leading `= + - @` gets an apostrophe. Values come raw from the driver
(bot/services/reports/export.py): moments as naive-UTC text (SQLite) or datetimes
(PostgreSQL), flags as 0/1 or booleans.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.reports import export_xlsx as x
from bot.services.reports.export import Column, Kind, Row, Scope, Sheet

FORMULA_START = ("=", "+", "-", "@")
SHEET_TITLE_LIMIT = 31  # Excel's
EPOCH = dt.datetime(1899, 12, 30)  # Excel's day 0


@dataclass(frozen=True, slots=True)
class Labels:
    sheet: Callable[[str], str]  # a sheet's title
    column: Callable[[str], str]  # a column's title
    value: Callable[[str, str], str]  # (column key, code) -> words; the code if none
    yes: str
    no: str


Progress = Callable[[int], None]  # percent done, 0-100
Cell = Callable[[Any, str], Any]  # (raw value, the row's timezone) -> what is written


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def utc_naive(value: Any) -> Any:
    """A raw moment as a naive UTC datetime; a calendar date (YYYY-MM-DD) as a date."""
    if isinstance(value, str):
        return dt.date.fromisoformat(value) if len(value) == 10 else \
            dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


class Offsets:
    """The organisations' UTC offsets by hour, computed once per timezone and hour."""

    HOURS_KEPT = 100_000

    def __init__(self) -> None:
        self._known: dict[tuple[str, int], float] = {}
        self._hours: dict[tuple[str, str], float] = {}  # (tz, "YYYY-MM-DD HH") -> serial

    def seconds(self, tz: str, moment: dt.datetime) -> float:
        key = (tz, moment.toordinal() * 24 + moment.hour)
        found = self._known.get(key)
        if found is None:
            offset = moment.replace(tzinfo=dt.UTC).astimezone(_zone(tz)).utcoffset()
            found = self._known[key] = offset.total_seconds() if offset is not None else 0.0
        return found

    def local(self, value: Any, tz: str) -> Any:
        """A raw moment as the naive local datetime (a date stays a date)."""
        moment = utc_naive(value)
        if not isinstance(moment, dt.datetime):
            return moment
        return moment + dt.timedelta(seconds=self.seconds(tz, moment))

    def serial(self, value: Any, tz: str) -> float | None:
        """Excel's serial day number of a raw moment in local time (a date: its day)."""
        if value.__class__ is str and len(value) >= 19 and value[13] == ":":
            # SQLite's "YYYY-MM-DD HH:MM:SS[.ffffff]": the hour's serial is computed once
            key = (tz, value[:13])
            hour = self._hours.get(key)
            if hour is None:
                if len(self._hours) >= self.HOURS_KEPT:
                    self._hours.clear()
                moment = dt.datetime.fromisoformat(value[:13] + ":00")
                hour = self._hours[key] = (
                    (moment - EPOCH).total_seconds() + self.seconds(tz, moment)
                ) / 86400
            return hour + (int(value[14:16]) * 60 + int(value[17:19])) / 86400
        moment = utc_naive(value)
        if isinstance(moment, dt.datetime):
            return ((moment - EPOCH).total_seconds() + self.seconds(tz, moment)) / 86400
        if isinstance(moment, dt.date):
            return float(moment.toordinal() - EPOCH.toordinal())
        return None


def _words(column: Column, labels: Labels) -> Callable[[Any], str]:
    """A code column's words, each looked up once."""
    known: dict[Any, str] = {}
    key = column.key

    def word(value: Any) -> str:
        found = known.get(value)
        if found is None:
            found = known[value] = labels.value(key, str(value))
        return found

    return word


class _RecentText:
    """Text cells of one column, the recent ones kept (a pair's ten meetings name the same
    two people)."""

    LIMIT = 4096

    def __init__(self) -> None:
        self.known: dict[Any, str] = {}

    def __call__(self, value: Any) -> str:
        found = self.known.get(value)
        if found is None:
            if len(self.known) >= self.LIMIT:
                self.known.clear()
            found = self.known[value] = x.text_cell(str(value))
        return found


class _Moments:
    """Date or date-time cells of one column by the minute (what the sheet shows), computed
    once per timezone and minute: a journal repeats the same hours."""

    LIMIT = 100_000

    def __init__(self, offsets: Offsets, *, day: bool) -> None:
        self.offsets = offsets
        self.day = day
        self.known: dict[tuple[str, str], str] = {}

    def cell(self, value: Any, tz: str) -> str:
        serial = self.offsets.serial(value, tz)
        if serial is None:
            return x.EMPTY
        return x.date_cell(int(serial)) if self.day else x.time_cell(serial)

    def __call__(self, value: Any, tz: str) -> str:
        if value.__class__ is not str or len(value) < 16:
            return self.cell(value, tz)
        key = (tz, value[:16])
        found = self.known.get(key)
        if found is None:
            if len(self.known) >= self.LIMIT:
                self.known.clear()
            found = self.known[key] = self.cell(value[:16] + ":00", tz)
        return found


class _XlsxRow:
    """A sheet's row as cell XML, from the raw row (timezone first). The function is
    generated per sheet so a number is one f-string and a code one dict look-up: no call per
    cell for them (a million-row export spends most of its time here)."""

    def __init__(self, columns: Sequence[Column], labels: Labels, offsets: Offsets) -> None:
        names: dict[str, Any] = {"EMPTY": x.EMPTY}
        parts = []
        for i, column in enumerate(columns):
            v, kind = f"v{i}", column.kind
            if kind == Kind.NUMBER:
                parts.append(f'(EMPTY if {v} is None else f"<c><v>{{{v}}}</v></c>")')
            elif kind in (Kind.CODE, Kind.LABEL, Kind.FLAG):
                known: dict[Any, str] = {None: x.EMPTY}
                if kind == Kind.FLAG:
                    known.update({True: x.text_cell(labels.yes), False: x.text_cell(labels.no)})
                names[f"k{i}"], names[f"c{i}"] = known, self._coded(column, labels, known)
                parts.append(f"(k{i}.get({v}) or c{i}({v}))")
            elif kind == Kind.TEXT:  # names repeat row after row (a pair's meetings)
                recent = _RecentText()
                names[f"t{i}"], names[f"n{i}"] = recent.known, recent
                parts.append(f"(EMPTY if {v} is None else (t{i}.get({v}) or n{i}({v})))")
            else:
                names[f"m{i}"] = _Moments(offsets, day=kind == Kind.DATE)
                parts.append(f"(EMPTY if {v} is None else m{i}({v}, tz))")
        values = ", ".join(f"v{i}" for i in range(len(columns)))
        source = (
            "def row(raw):\n"
            f"    tz, {values}, = raw\n"
            f"    return ''.join(({', '.join(parts)},))\n"
        )
        exec(compile(source, f"<export row: {len(columns)} columns>", "exec"), names)
        self.row: Callable[[Row], str] = names["row"]

    @staticmethod
    def _coded(column: Column, labels: Labels, known: dict[Any, str]) -> Callable[[Any], str]:
        word = _words(column, labels) if column.kind == Kind.CODE else str

        def coded(value: Any) -> str:
            found = known[value] = x.text_cell(word(value))
            return found

        return coded


def _csv_cell(column: Column, labels: Labels, offsets: Offsets) -> Cell:
    kind = column.kind
    if kind in (Kind.CODE, Kind.LABEL):
        word = _words(column, labels) if kind == Kind.CODE else str
        return lambda v, tz: None if v is None else _csv_text(word(v))
    if kind == Kind.FLAG:
        return lambda v, tz: None if v is None else (labels.yes if v else labels.no)
    if kind == Kind.DATE:
        def day(v: Any, tz: str) -> Any:
            local = None if v is None else offsets.local(v, tz)
            return local.date().isoformat() if isinstance(local, dt.datetime) else local

        return day
    if kind == Kind.TIME:
        def moment(v: Any, tz: str) -> Any:
            local = None if v is None else offsets.local(v, tz)
            return local.strftime("%Y-%m-%d %H:%M") if isinstance(local, dt.datetime) else local

        return moment
    if kind == Kind.TEXT:
        return lambda v, tz: None if v is None else _csv_text(x.clean(str(v)))
    return lambda v, tz: v


def _csv_text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


class _Tracker:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.last = -1
        self.progress = progress

    def add(self, n: int) -> None:
        self.done += n
        percent = min(99, self.done * 100 // self.total)
        if self.progress is not None and percent != self.last:
            self.last = percent
            self.progress(percent)


def sheet_title(labels: Labels, sheet: Sheet) -> str:
    return labels.sheet(sheet.name)[:SHEET_TITLE_LIMIT]


async def _total(session: AsyncSession, scope: Scope, sheets: Sequence[Sheet]) -> int:
    return sum([await sheet.count(session, scope) for sheet in sheets])


async def write_xlsx(
    session: AsyncSession, scope: Scope, sheets: Sequence[Sheet], labels: Labels, path: Path,
    progress: Progress | None = None,
) -> int:
    """The workbook at `path`; returns the number of data rows written."""
    tracker = _Tracker(await _total(session, scope, sheets), progress)
    offsets = Offsets()
    written = 0
    with x.XlsxWriter(path) as book:
        for sheet in sheets:
            out = book.sheet(
                sheet_title(labels, sheet), [column.kind for column in sheet.columns],
                [labels.column(column.key) for column in sheet.columns],
            )
            row = _XlsxRow(sheet.columns, labels, offsets).row
            async for chunk in sheet.rows(session, scope):
                out.rows(map(row, chunk))
                written += len(chunk)
                tracker.add(len(chunk))
            out.close()
    return written


async def write_csv(
    session: AsyncSession, scope: Scope, sheet: Sheet, labels: Labels, path: Path,
    progress: Progress | None = None,
) -> int:
    """One sheet as CSV at `path`; returns the number of data rows written."""
    tracker = _Tracker(await sheet.count(session, scope), progress)
    offsets = Offsets()
    cells = [_csv_cell(column, labels, offsets) for column in sheet.columns]
    written = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow([labels.column(column.key) for column in sheet.columns])
        async for chunk in sheet.rows(session, scope):
            writer.writerows(
                [cell(v, row[0]) for cell, v in zip(cells, row[1:], strict=True)]
                for row in chunk
            )
            written += len(chunk)
            tracker.add(len(chunk))
    return written
