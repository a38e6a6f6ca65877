"""Curator and coordinator reports: the programme summary, the KPI table against the year's
targets, the organisation's totals, and the deadline reminders' calendar.

Plain services: they take the session, ids and values, aggregate in SQL and never commit."""

from __future__ import annotations

from bot.services.reports.kpi import KpiRow, kpis
from bot.services.reports.period import local_year, month_bounds, year_bounds
from bot.services.reports.summary import Summary, summary

__all__ = ["KpiRow", "Summary", "kpis", "local_year", "month_bounds", "summary", "year_bounds"]
