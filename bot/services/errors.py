"""Domain errors carry a text key and parameters; handlers turn them into words."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    def text_key(self) -> str:
        return f"errors.{self.code}"
