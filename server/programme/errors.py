"""The one exception of programme files."""

from __future__ import annotations


class ProgrammeError(ValueError):
    """A programme file was refused; `str()` is one line: ``{source}:{line}: {message}``."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        self.message = " ".join(message.splitlines())
        super().__init__(source, line, self.message)

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"
