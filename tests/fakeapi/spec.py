"""The official Bot API method list (tests/fakeapi/api.min.json) and type coercion.

`api.min.json` is Bot API 10.1 (11 June 2026), generated from the official documentation by
the public PaulSonOfLars/telegram-bot-api-spec project (MIT). To refresh it, replace the file
with a newer `api.min.json` from that project and run the test suite; the README says the same.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SPEC_ENV = "TELEGRAM_API_SPEC"
# The spec ships inside the repository, beside this module.
DEFAULT_SPEC_PATH = Path(__file__).resolve().parent / "api.min.json"

_SCALARS = frozenset({"String", "Integer", "Boolean", "Float", "InputFile"})
_INTEGER_RE = re.compile(r"^-?\d+$")


class CoercionError(ValueError):
    """A parameter has the wrong type; str(error) is the Bad Request description."""


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[str, ...]
    required: bool

    @property
    def is_file(self) -> bool:
        return "InputFile" in self.types

    @property
    def is_json(self) -> bool:
        return any(kind not in _SCALARS for kind in self.types)

    def coerce(self, value: Any) -> Any:
        """Turn a form-encoded string into the value a JSON body would carry."""
        if not isinstance(value, str):
            return value
        if self.is_file:
            return value
        if self.is_json:
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise CoercionError(f"can't parse {self.name} JSON object") from exc
        if self.types == ("Integer",):
            if not _INTEGER_RE.match(value.strip()):
                raise CoercionError(f'field "{self.name}" must be of type Integer')
            return int(value)
        if "Integer" in self.types and _INTEGER_RE.match(value.strip()):
            return int(value)
        if self.types == ("Float",):
            try:
                return float(value)
            except ValueError as exc:
                raise CoercionError(f'field "{self.name}" must be of type Float') from exc
        if self.types == ("Boolean",):
            return value.strip().lower() in ("true", "1", "yes", "on")
        return value


@dataclass(frozen=True)
class Method:
    name: str
    fields: dict[str, Field]

    @property
    def required(self) -> list[Field]:
        return [field for field in self.fields.values() if field.required]

    def coerce(self, params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in params.items():
            spec_field = self.fields.get(key)
            result[key] = spec_field.coerce(value) if spec_field else value
        return result


class ApiSpec:
    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = str(data.get("version", "?"))
        self.methods: dict[str, Method] = {}
        for name, raw in data["methods"].items():
            fields = {
                f["name"]: Field(f["name"], tuple(f["types"]), bool(f["required"]))
                for f in raw.get("fields", [])
            }
            self.methods[name] = Method(name, fields)
        self._by_lower = {name.lower(): method for name, method in self.methods.items()}

    def method(self, name: str) -> Method | None:
        """Look a method up the way Telegram does: case-insensitively."""
        return self._by_lower.get(name.lower())


@cache
def load_spec(path: str | None = None) -> ApiSpec:
    spec_path = Path(path or os.environ.get(SPEC_ENV) or DEFAULT_SPEC_PATH)
    if not spec_path.is_file():
        raise FileNotFoundError(
            f"Bot API spec not found at {spec_path}; set {SPEC_ENV} to the api.min.json path"
        )
    return ApiSpec(json.loads(spec_path.read_text(encoding="utf-8")))
