"""/broadcast in words: segments, the preview, the progress and the final count."""

from __future__ import annotations

from bot.i18n import SUPPORTED, Translator, translator
from bot.services import broadcast as svc


def segment_name(t: Translator, segment: str) -> str:
    if segment.startswith(svc.FORM_PREFIX):
        form = segment[len(svc.FORM_PREFIX):]
        return t(f"form.{form}") if t.has(f"form.{form}") else form
    return t(f"broadcast.seg_{segment}")


def preview(t: Translator, text: str, segment: str, count: int, paused: int) -> str:
    out = t("broadcast.preview", text=text, segment=segment_name(t, segment), n=count)
    if paused:
        out += "\n" + t("broadcast.preview_paused", n=paused)
    return out


def progress_text(t: Translator, broadcast_id: int, state: svc.Progress) -> str:
    if state.done:
        return t("broadcast.done", id=broadcast_id, sent=state.sent, total=state.total,
                 unreachable=state.unreachable)
    return t("broadcast.progress", id=broadcast_id, sent=state.sent + state.unreachable,
             total=state.total)


def headers() -> dict[str, str]:
    """The announcement's first line in every language."""
    return {language: translator(language)("broadcast.header") for language in SUPPORTED}
