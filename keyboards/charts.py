"""The "charts" button: shared by /summary (which offers it) and /charts (which draws them).
`org` names the organisation the charts are for; the handler re-checks the presser's scope."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class ChartsAction(StrEnum):
    SHOW = "s"  # org: draw and send the charts of that organisation


class ChartsCb(CallbackData, prefix="ch"):
    a: ChartsAction
    org: int


def charts_button(text: str, organisation_id: int) -> dict[str, str]:
    """One inline button (Bot API JSON) that asks for the organisation's charts."""
    data = ChartsCb(a=ChartsAction.SHOW, org=organisation_id).pack()
    return {"text": text, "callback_data": data}
