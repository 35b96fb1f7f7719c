"""The one error of reading a delegation list as a whole (a row's problems are not errors: see ``rows``)."""

from __future__ import annotations

from typing import Literal

SheetProblem = Literal[
    "unsupported_file", "unreadable_file", "too_many_rows", "empty_file", "missing_columns", "duplicate_column"
]


class SheetError(ValueError):
    """The file as a whole cannot be read as a delegation list; ``code`` says why, for machines."""

    def __init__(self, code: SheetProblem, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
