"""What the commands that touch the database share: one transaction, the migration check, and
database failures turned into one line that names the database (never its password)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from config.settings import Settings
from server.cli.errors import CliError

T = TypeVar("T")


def database_label(settings: Settings) -> str:
    return make_url(settings.sync_database_url).render_as_string(hide_password=True)


@contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        if exc.connection_invalidated or "connect" in str(exc.orig).lower() or _is_connect_error(exc):
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise CliError(f"cannot reach the database {database_label(settings)}: {reason}") from None
        raise CliError(f"database error: {str(exc.orig or exc).strip().splitlines()[0]}") from None
    except OSError as exc:
        raise CliError(f"cannot reach the database {database_label(settings)}: {exc}") from None
    except SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"database error on {database_label(settings)}: {first}") from None


def _is_connect_error(exc: DBAPIError) -> bool:
    return type(exc.orig).__name__ in {"OperationalError", "ConnectionRefusedError", "CannotConnectNowError"}


def run_async(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(session)`` in one transaction on the async engine."""
    from server.adapters.db.engine import make_async_engine, make_sessionmaker  # noqa: PLC0415 - the engine loads only for database commands

    async def main() -> T:
        engine = make_async_engine(settings)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    with database_errors(settings):
        return asyncio.run(main())


def ensure_migrated(settings: Settings) -> None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - Alembic loads only for database commands
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - Alembic loads only for database commands

    from server.adapters.db.engine import make_sync_engine  # noqa: PLC0415 - the engine loads only for database commands
    from server.adapters.db.migrate import alembic_config  # noqa: PLC0415 - Alembic loads only for database commands

    engine = make_sync_engine(settings)
    with database_errors(settings), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        current = MigrationContext.configure(conn).get_current_revision()
    engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    if current != head:
        raise CliError(
            f"the database {database_label(settings)} is at revision {current or 'none'}, "
            f"not {head}: run `parley db upgrade`"
        )
