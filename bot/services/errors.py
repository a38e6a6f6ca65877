"""Domain errors carry a text key and parameters; handlers turn them into words."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refusal the person should read: `errors.<code>` with its parameters.

    Raised out of a handler, it is answered by the error router (handlers/errors.py): the
    update's transaction is rolled back and the person gets the text.
    """

    # A button pressed on something that no longer allows it: its keyboard is removed too.
    stale = False
    # False: the answer is a quiet notice under the button instead of an alert.
    alert = True

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    def text_key(self) -> str:
        return f"errors.{self.code}"


class StaleError(ServiceError):
    """The object a button names has moved on: answer, and take the button away."""

    stale = True


class NotYoursError(ServiceError):
    """A button pressed by someone it was not sent to (forwarded or forged): a quiet
    answer, and nothing is touched, the keyboard included."""

    alert = False
