from __future__ import annotations

from sqlalchemy import create_engine, inspect

from server.adapters.db import migrate
from tests.fixtures.parley import Parley


def test_models_and_migrations_do_not_drift(parley: Parley) -> None:
    """`alembic check` on SQLite and on PostgreSQL."""
    engine = create_engine(parley.settings().sync_database_url)
    try:
        migrate.check(engine)
    finally:
        engine.dispose()


def test_downgrade_to_base_and_up_again(sqlite_parley: Parley) -> None:
    engine = create_engine(sqlite_parley.settings().sync_database_url)
    try:
        migrate.downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        assert {"events", "segments", "users"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
