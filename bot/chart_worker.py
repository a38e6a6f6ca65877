"""Drawing the report charts as PNG images, off the event loop.

The caller gives plain values and plain strings (labels already in the reader's language);
nothing here touches the database or Telegram. Drawing uses matplotlib's object-oriented
API (`Figure` with the Agg canvas, no pyplot and so no global figure state), which is safe
in a worker thread: `draw` runs `render` in one with `asyncio.to_thread`, so the bot keeps
answering other users meanwhile.

matplotlib is imported on the first drawing, not with the bot.
Images are 1200 px wide with large fonts, to stay readable on a phone.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH_IN, HEIGHT_IN, DPI = 12.0, 7.5, 100  # 1200 x 750 px
COLOURS = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5")
TITLE_SIZE, LABEL_SIZE, TICK_SIZE, VALUE_SIZE = 24, 18, 16, 15


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float]


@dataclass(frozen=True, slots=True)
class BarChart:
    """Bars of one or more series over the same categories."""

    title: str
    categories: Sequence[str]
    series: Sequence[Series]
    value_axis: str = ""
    category_axis: str = ""
    horizontal: bool = False  # categories down the side (long names, a funnel)
    value_max: float | None = None  # a fixed scale (1-10 means), else from the data
    decimals: int = 0  # the value labels on the bars
    note: str = ""  # a line under the chart
    highlight_from: int | None = None  # categories from this index are shaded (satisfied)
    legend: bool = field(default=True)


def _label(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if decimals else str(round(value))


def render_one(chart: BarChart) -> bytes:
    # Imported on first use: matplotlib costs the bot about 0.6 s and 35 MB at start-up
    # otherwise. The Agg canvas is attached explicitly; pyplot is never imported.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    count = max(len(chart.series), 1)
    thickness = 0.8 / count
    positions = list(range(len(chart.categories)))
    for i, series in enumerate(chart.series):
        offsets = [p - 0.4 + thickness * (i + 0.5) for p in positions]
        colour = COLOURS[i % len(COLOURS)]
        if chart.horizontal:
            bars = ax.barh(offsets, list(series.values), height=thickness, color=colour,
                           label=series.name)
        else:
            bars = ax.bar(offsets, list(series.values), width=thickness, color=colour,
                          label=series.name)
        ax.bar_label(bars, labels=[_label(v, chart.decimals) if v else "" for v in series.values],
                     padding=3, fontsize=VALUE_SIZE)
    top = chart.value_max or max([max(s.values, default=0) for s in chart.series] + [1])
    if chart.highlight_from is not None and chart.categories:
        start = chart.highlight_from - 0.5
        end = len(chart.categories) - 0.5
        if chart.horizontal:
            ax.axhspan(start, end, color="#c6f6d5", alpha=0.5, zorder=0)
        else:
            ax.axvspan(start, end, color="#c6f6d5", alpha=0.5, zorder=0)
    if chart.horizontal:
        ax.set_yticks(positions, list(chart.categories), fontsize=TICK_SIZE)
        ax.invert_yaxis()  # the first category on top, as in a funnel
        ax.set_xlim(0, top * 1.15)
        ax.set_xlabel(chart.value_axis, fontsize=LABEL_SIZE)
        ax.set_ylabel(chart.category_axis, fontsize=LABEL_SIZE)
        ax.tick_params(axis="x", labelsize=TICK_SIZE)
    else:
        ax.set_xticks(positions, list(chart.categories), fontsize=TICK_SIZE)
        ax.set_ylim(0, top * 1.15)
        ax.set_ylabel(chart.value_axis, fontsize=LABEL_SIZE)
        ax.set_xlabel(chart.category_axis, fontsize=LABEL_SIZE)
        ax.tick_params(axis="y", labelsize=TICK_SIZE)
    if not chart.decimals:  # counts: whole numbers on the value axis
        axis = ax.xaxis if chart.horizontal else ax.yaxis
        axis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(chart.title, fontsize=TITLE_SIZE, pad=14)
    ax.spines[["top", "right"]].set_visible(False)
    if chart.legend and len(chart.series) > 1:
        ax.legend(fontsize=LABEL_SIZE, frameon=False)
    if chart.note:
        figure.supxlabel(chart.note, fontsize=TICK_SIZE, color="#4a5568")
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def render(charts: Sequence[BarChart]) -> list[bytes]:
    return [render_one(chart) for chart in charts]


async def draw(charts: Sequence[BarChart]) -> list[bytes]:
    """The PNG images, drawn in a worker thread."""
    return await asyncio.to_thread(render, list(charts))
