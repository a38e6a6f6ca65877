"""Every text key the code uses exists in both locales, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

import yaml

from bot.i18n import SUPPORTED, catalog

ROOT = Path(__file__).resolve().parents[2]
LITERAL_KEY = re.compile(r'\bt\(\s*"([a-z_]+\.[a-z_.-]+)"|"(errors\.[a-z_]+)"')


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_locale_files_have_only_string_keys() -> None:
    # YAML 1.1 reads bare yes/no/on/off as booleans: a key like `yes:` would vanish.
    paths = list((ROOT / "bot" / "locales").glob("*.yaml"))
    assert {p.name for p in paths} >= {f"{language}.yaml" for language in SUPPORTED}
    for path in paths:
        stack = [yaml.safe_load(path.read_text("utf-8"))]
        while stack:
            node = stack.pop()
            assert all(isinstance(k, str) for k in node), f"non-string key in {path.name}"
            stack += [v for v in node.values() if isinstance(v, dict)]


PLURAL = re.compile(r"_(one|few|many|other)$")


def _forms(texts: dict[str, str]) -> dict[str, str]:
    """Plural forms differ by language (ru: one/few/many, en: one/other): compare the
    counted text once, by its stem."""
    return {PLURAL.sub("_#", key): text for key, text in texts.items()}


def test_same_keys_and_placeholders() -> None:
    ru, en = _forms(catalog("ru")), _forms(catalog("en"))
    assert set(ru) == set(en)
    for key in ru:
        assert _placeholders(ru[key]) == _placeholders(en[key]), key


def test_every_literal_key_in_code_exists() -> None:
    keys = set(catalog("ru"))
    missing = []
    for folder in ("bot", "handlers", "keyboards", "scheduler"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in LITERAL_KEY.finditer(path.read_text("utf-8")):
                key = match.group(1) or match.group(2)
                if key not in keys:
                    missing.append(f"{path.relative_to(ROOT)}: {key}")
    assert not missing, missing


def test_every_service_error_has_a_text() -> None:
    keys = set(catalog("ru"))
    codes = set()
    for path in (ROOT / "bot").rglob("*.py"):
        codes |= set(re.findall(r'ServiceError\(\s*"([a-z_]+)"', path.read_text("utf-8")))
    assert codes and not {c for c in codes if f"errors.{c}" not in keys}


def test_plural_forms_follow_the_language_rules() -> None:
    from bot.i18n import translator

    ru, en = translator("ru"), translator("en")
    assert [ru.plural("nudges.days", n) for n in (1, 3, 5, 11, 21, 24)] == [
        "1 день", "3 дня", "5 дней", "11 дней", "21 день", "24 дня"]
    assert [en.plural("nudges.days", n) for n in (1, 14)] == ["1 day", "14 days"]
