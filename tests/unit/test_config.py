"""Settings: defaults, parsing, and one clear line naming a bad variable."""

from __future__ import annotations

import pytest

from bot.config import DEFAULT_DATABASE_URL, ConfigError, Settings, load_settings


def _load(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name in ("BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_BASE", "ADMIN_IDS",
                 "DEFAULT_TIMEZONE", "LOG_LEVEL", "QUESTIONNAIRES_DIR", "CONSENT_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir("/")  # no .env here
    return load_settings()


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _load(monkeypatch, BOT_TOKEN="123:abc")
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.telegram_api_base is None
    assert settings.admin_ids == frozenset()
    assert settings.default_timezone == "Europe/Moscow"


def test_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _load(
        monkeypatch, BOT_TOKEN="123:abc", ADMIN_IDS="5, 7", TELEGRAM_API_BASE="http://x:8081/",
        LOG_LEVEL="debug", QUESTIONNAIRES_DIR="",
    )
    assert settings.admin_ids == frozenset({5, 7})
    assert settings.telegram_api_base == "http://x:8081"
    assert settings.log_level == "DEBUG"
    assert settings.questionnaires_dir is None


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({}, "BOT_TOKEN"),
        ({"BOT_TOKEN": "nocolon"}, "BOT_TOKEN"),
        ({"BOT_TOKEN": "1:a", "ADMIN_IDS": "1,x"}, "ADMIN_IDS"),
        ({"BOT_TOKEN": "1:a", "DEFAULT_TIMEZONE": "Moon/Base"}, "DEFAULT_TIMEZONE"),
        ({"BOT_TOKEN": "1:a", "DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"BOT_TOKEN": "1:a", "TELEGRAM_API_BASE": "ftp://x"}, "TELEGRAM_API_BASE"),
        ({"BOT_TOKEN": "1:a", "LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"BOT_TOKEN": "1:a", "CONSENT_FILE": "/no/such/file.yaml"}, "CONSENT_FILE"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], name: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(monkeypatch, **env)
    message = str(caught.value)
    assert name in message and "\n" not in message
