"""Reports on a region-sized database: ``python -m bench.reports [--participants 100000]``.

Builds (or takes from the cache) bench/dataset.py's database, then times /summary and /kpi
for one organisation (bot.services.reports.summary/kpi, when present) and /export of the
whole dataset (every organisation, as a coordinator's `/export all`): the real worker
process (bot/report_worker.py), its wall time and peak memory (the child's maximum resident
set). The last line of stdout is one JSON object:
``{"participants": 100000, "summary_s": …, "kpi_s": …, "export_s": …, "export_peak_mb": …}``
(null for a report that is not there yet), then the worker's CPU seconds (the wall time
depends on what else the machine runs), rows and file size. Goals: summary and KPI under
0.5 s each, the export under 20 s and under 500 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.dataset import prepared_database
from db.models import Organisation

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


async def _time_reports(url: str) -> tuple[list[int], float | None, float | None]:
    """The organisation ids, and the seconds /summary and /kpi take for the first one."""
    engine = create_async_engine(url)
    summary_s = kpi_s = None
    try:
        async with AsyncSession(engine) as session:
            orgs = list((await session.execute(select(Organisation.id).order_by(
                Organisation.id))).scalars())
            summary = _optional("bot.services.reports.summary")
            if summary is not None:
                started = time.perf_counter()
                await summary.summary(session, orgs[0], NOW)
                summary_s = round(time.perf_counter() - started, 3)
            kpi = _optional("bot.services.reports.kpi")
            if kpi is not None:
                started = time.perf_counter()
                await kpi.kpis(session, orgs[0], NOW.year, NOW)
                kpi_s = round(time.perf_counter() - started, 3)
    finally:
        await engine.dispose()
    return orgs, summary_s, kpi_s


def _export(url: str, orgs: list[int], out: Path) -> tuple[float, float, float, int]:
    """Seconds, CPU seconds and peak MB of the worker process, and rows written."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot.report_worker", "--orgs", ",".join(map(str, orgs)),
         "--lang", "ru", "--out", str(out), "--now", NOW.isoformat()],
        capture_output=True, text=True, env={**os.environ, "DATABASE_URL": url},
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the export worker failed: {done.returncode}")
    rows = int(done.stdout.strip().splitlines()[-1].split()[1])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the worker: the only child
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, rows  # KB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nastavnik-bench-reports-") as folder:
        path = Path(folder) / "reports.db"
        started = time.perf_counter()
        prepared_database(path, args.participants)
        print(f"database ready in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        url = f"sqlite+aiosqlite:///{path}"
        orgs, summary_s, kpi_s = asyncio.run(_time_reports(url))
        out = Path(folder) / "export.xlsx"
        export_s, cpu_s, peak_mb, rows = _export(url, orgs, out)
        result = {
            "participants": args.participants, "summary_s": summary_s, "kpi_s": kpi_s,
            "export_s": round(export_s, 2), "export_peak_mb": round(peak_mb, 1),
            "export_cpu_s": round(cpu_s, 2), "export_rows": rows,
            "export_file_mb": round(out.stat().st_size / 2**20, 1),
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
