"""The PARLEY_* settings: loaded for every command, listed by ``parley settings``."""

from __future__ import annotations

import click
from pydantic import ValidationError

from config.settings import Settings, describe_settings
from server.cli.errors import EXIT_USAGE, CliError


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            var = f"PARLEY_{name.upper()}" if name else "settings"
            problems.append(f"{var}: {err['msg']}")
        raise CliError("invalid setting " + "; ".join(problems), EXIT_USAGE) from None


@click.command("settings")
@click.option("--markdown", is_flag=True, help="As the README's table.")
def settings_cmd(markdown: bool) -> None:
    """List every PARLEY_* setting with its default."""
    rows = describe_settings()
    if markdown:
        click.echo("| Variable | Default | Meaning |\n|---|---|---|")
        for var, default, desc in rows:
            click.echo(f"| `{var}` | `{default}` | {desc} |" if default else f"| `{var}` | (empty) | {desc} |")
        return
    load_settings()  # a bad value is reported here too
    for var, default, desc in rows:
        click.echo(f"{var}={default}\n    {desc}")
