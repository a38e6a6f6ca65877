"""User-facing texts from locale files (bot/locales/<lang>.yaml).

Russian is the default; English is used for Telegram clients set to English.
Values may use str.format placeholders; callers escape user-provided values for HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from babel import Locale

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LANGUAGE = "ru"
SUPPORTED = ("ru", "en")


def pick_language(language_code: str | None) -> str:
    if language_code and language_code.lower().split("-")[0] == "en":
        return "en"
    return DEFAULT_LANGUAGE


def _flatten(prefix: str, node: Any, out: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    else:
        out[prefix] = str(node).rstrip("\n") if isinstance(node, str) else str(node)


@cache
def catalog(language: str) -> dict[str, str]:
    """`<lang>.yaml` plus feature files `<lang>.<feature>.yaml`, merged."""
    flat: dict[str, str] = {}
    paths = [LOCALES_DIR / f"{language}.yaml", *sorted(LOCALES_DIR.glob(f"{language}.*.yaml"))]
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            part: dict[str, str] = {}
            _flatten("", yaml.safe_load(fh) or {}, part)
        clash = set(part) & set(flat)
        if clash:
            raise ValueError(f"{path.name} repeats text keys: {sorted(clash)[:5]}")
        flat.update(part)
    return flat


class Translator:
    """Texts of one language; `t("key", name=...)`."""

    def __init__(self, language: str) -> None:
        self.language = language if language in SUPPORTED else DEFAULT_LANGUAGE
        self._texts = catalog(self.language)
        self._fallback = catalog(DEFAULT_LANGUAGE)
        self._plural_form = Locale.parse(self.language).plural_form

    def __call__(self, key: str, /, **params: Any) -> str:
        text = self._texts.get(key)
        if text is None:
            text = self._fallback.get(key)
        if text is None:
            raise KeyError(f"no text {key!r} in locale {self.language}")
        return text.format(**params) if params else text

    def plural(self, key: str, n: int, /, **params: Any) -> str:
        """A text that counts: `key_one`, `key_few`, `key_many` or `key_other`, chosen by the
        language's CLDR plural rules (Babel): 1 день, 2 дня, 5 дней, 21 день."""
        form = self._plural_form(n)
        for suffix in (form, "other", "many"):
            if self.has(f"{key}_{suffix}"):
                return self(f"{key}_{suffix}", n=n, **params)
        raise KeyError(f"no plural forms of {key!r} in locale {self.language}")

    def has(self, key: str) -> bool:
        return key in self._texts or key in self._fallback

    def pick(self, localized: Mapping[str, str] | str) -> str:
        """Choose this language from a data-file mapping like {ru: ..., en: ...}."""
        if isinstance(localized, str):
            return localized
        return localized.get(self.language) or localized.get(DEFAULT_LANGUAGE) or ""


@cache
def translator(language: str) -> Translator:
    return Translator(language)
