"""Writing the export's sheets to files: an .xlsx workbook (streamed: rows go straight into
the archive, nothing is kept; bot/services/reports/export_xlsx.py) or one sheet as CSV (UTF-8
with a BOM, so Excel opens Cyrillic; `;`-separated, as Excel expects in a Russian locale).

Titles and codes are worded by the `Labels` the caller gives (the worker builds them from the
translator). Text a person typed never becomes a formula: in the workbook it is stored as a
string, in CSV a leading `= + - @` gets an apostrophe.
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

from bot.services.reports.export import Column, Kind, Row, Scope, Sheet
from bot.services.reports.export_xlsx import ILLEGAL_XML, XlsxWriter

FORMULA_START = ("=", "+", "-", "@")
SHEET_TITLE_LIMIT = 31  # Excel's


@dataclass(frozen=True, slots=True)
class Labels:
    sheet: Callable[[str], str]  # a sheet's title
    column: Callable[[str], str]  # a column's title
    value: Callable[[str, str], str]  # (column key, code) -> words; the code if none
    yes: str
    no: str


Progress = Callable[[int], None]  # percent done, 0-100


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local(value: dt.datetime, tz: str) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(_zone(tz)).replace(tzinfo=None)


def _converter(column: Column, labels: Labels) -> Callable[[Any, str], Any]:
    """How a value of this column is shown (the timezone is the row's organisation's)."""
    kind = column.kind
    if kind == Kind.TIME:
        return lambda v, tz: _local(v, tz).replace(second=0, microsecond=0) \
            if isinstance(v, dt.datetime) else v
    if kind == Kind.DATE:
        return lambda v, tz: _local(v, tz).date() if isinstance(v, dt.datetime) else v
    if kind == Kind.CODE:
        key = column.key
        return lambda v, tz: None if v is None else labels.value(key, str(v))
    if kind == Kind.FLAG:
        return lambda v, tz: None if v is None else (labels.yes if v else labels.no)
    if kind == Kind.TEXT:
        return lambda v, tz: ILLEGAL_XML.sub("", v) if isinstance(v, str) else v
    return lambda v, tz: v


class _Rows:
    """Turns the source's rows into shown values, counting them for the progress."""

    def __init__(self, sheet: Sheet, labels: Labels) -> None:
        self.convert = [_converter(column, labels) for column in sheet.columns]

    def shown(self, row: Row) -> list[Any]:
        tz = row[0]
        return [convert(value, tz) for convert, value in zip(self.convert, row[1:], strict=True)]


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
    written = 0
    with XlsxWriter(path) as book:
        for sheet in sheets:
            out = book.sheet(
                sheet_title(labels, sheet), [column.kind for column in sheet.columns],
                [labels.column(column.key) for column in sheet.columns],
            )
            rows = _Rows(sheet, labels)
            async for chunk in sheet.rows(session, scope):
                for row in chunk:
                    out.append(rows.shown(row))
                written += len(chunk)
                tracker.add(len(chunk))
            out.close()
    return written


def _csv_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value


async def write_csv(
    session: AsyncSession, scope: Scope, sheet: Sheet, labels: Labels, path: Path,
    progress: Progress | None = None,
) -> int:
    """One sheet as CSV at `path`; returns the number of data rows written."""
    tracker = _Tracker(await sheet.count(session, scope), progress)
    written = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow([labels.column(column.key) for column in sheet.columns])
        rows = _Rows(sheet, labels)
        async for chunk in sheet.rows(session, scope):
            writer.writerows([_csv_value(v) for v in rows.shown(row)] for row in chunk)
            written += len(chunk)
            tracker.add(len(chunk))
    return written
