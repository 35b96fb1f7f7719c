"""``parley db``: the database schema, migrated by Alembic."""

from __future__ import annotations

import click

from server.cli.database import database_errors, database_label
from server.cli.errors import fail
from server.cli.settings import load_settings


@click.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the latest)."""
    from server.adapters.db import migrate  # noqa: PLC0415 - Alembic loads only for database commands
    from server.adapters.db.engine import make_sync_engine  # noqa: PLC0415 - the engine loads only for database commands

    settings = load_settings()
    engine = make_sync_engine(settings)
    with database_errors(settings):
        migrate.upgrade(engine, revision)
    engine.dispose()
    click.echo(f"database {database_label(settings)} at {revision}", err=True)


@db.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    from alembic.util.exc import CommandError  # noqa: PLC0415 - Alembic loads only for database commands

    from server.adapters.db import migrate  # noqa: PLC0415 - Alembic loads only for database commands
    from server.adapters.db.engine import make_sync_engine  # noqa: PLC0415 - the engine loads only for database commands

    settings = load_settings()
    engine = make_sync_engine(settings)
    try:
        with database_errors(settings):
            migrate.check(engine)
    except CommandError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    click.echo("models and migrations agree", err=True)
