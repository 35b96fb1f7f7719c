"""How a command fails: one clean line on stderr and an exit code, never a traceback."""

from __future__ import annotations

from typing import Any, NoReturn

import click

EXIT_USAGE = 2
EXIT_FAILURE = 1


class CliError(click.ClickException):
    """One clean line, no traceback."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click's stubs say ClassVar, but click reads it per instance

    def show(self, file: Any = None) -> None:
        click.echo(f"parley: error: {self.format_message()}", err=True)


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    raise CliError(message, code)
