"""The Parley deployments the fault scenarios run against, each with a moderator and attendees.

- embedded: one ``parley serve`` (SQLite, memory bus) in a subprocess;
- production: two ``parley serve`` on one PostgreSQL database and a private redis-server;
- in-process: the app under uvicorn in this event loop (SQLite, memory bus), so a scenario can reach
  its hub and bus to inject a fault inside the server.

Heartbeats every 0.5 s and an idle timeout of 3 s, as the live tests use, so recovery is quick.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fixtures.bus import PrivateRedis
from tests.fixtures.live import staff_token
from tests.fixtures.parley import LIVE_ENV, Parley, ServerProcess, free_port, migrated_sqlite
from tests.fixtures.people import seed_attendees
from tests.fixtures.services import PostgresDatabases, pg_admin_execute, pg_url

HEARTBEAT_S = float(LIVE_ENV["PARLEY_HEARTBEAT_S"])


@dataclass
class Stack:
    mode: str
    parley: Parley
    urls: list[str]
    moderator: str
    attendees: list[str]
    servers: list[ServerProcess] = field(default_factory=list)
    redis: PrivateRedis | None = None
    database: str = ""
    runtime: Any = None  # the live runtime of an in-process server
    storm_tokens: list[str] = field(default_factory=list)  # attendees who join all at once later

    def more_attendees(self, count: int) -> list[str]:
        made = seed_attendees(self.parley.settings().sync_database_url, count, first=len(self.attendees))
        self.attendees.extend(made)
        return made

    def restart(self, index: int) -> None:
        """Start server ``index`` again on its port, after a crash."""
        old = self.servers[index]
        self.servers[index] = ServerProcess(self.parley, port=old.port)

    def cut_database_connections(self) -> int:
        """pg_terminate_backend on every connection of Parley's database: in the middle of whatever
        command is running, as a failover or a network cut does."""
        import psycopg

        from tests.fixtures.services import PG_DB, PG_HOST, PG_PORT, PG_USER

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DB, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.database,),
            ).fetchall()
        return len(rows)


def _attendees(parley: Parley, count: int) -> list[str]:
    return seed_attendees(parley.settings().sync_database_url, count)


@contextlib.asynccontextmanager
async def embedded(attendees: int) -> AsyncIterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="parley-faults-"))
    data_dir = root / "data"
    parley = Parley("sqlite", data_dir, migrated_sqlite(data_dir), extra_env=dict(LIVE_ENV))
    server = ServerProcess(parley)
    stack = Stack("embedded", parley, [server.url], staff_token(server, "moderator"), [], [server])
    try:
        stack.attendees = _attendees(parley, attendees)
        yield stack
    finally:
        for proc in stack.servers:
            proc.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.asynccontextmanager
async def production(attendees: int) -> AsyncIterator[Stack]:
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not installed")
    root = Path(tempfile.mkdtemp(prefix="parley-faults-"))
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    redis = PrivateRedis(executable, free_port())
    await redis.start()
    dbs = PostgresDatabases()
    servers: list[ServerProcess] = []
    try:
        dbs.build_template()
        database = dbs.new()
        parley = Parley(
            "postgres",
            data_dir,
            pg_url(database, "postgresql+asyncpg"),
            redis_url=redis.url,
            extra_env={**LIVE_ENV, "PARLEY_BUS_PREFIX": f"f{uuid.uuid4().hex[:8]}:"},
        )
        servers.append(ServerProcess(parley))
        servers.append(ServerProcess(parley))
        stack = Stack(
            "production",
            parley,
            [s.url for s in servers],
            staff_token(servers[0], "moderator"),
            _attendees(parley, attendees),
            servers,
            redis,
            database,
        )
        yield stack
    finally:
        for proc in servers:
            proc.stop()
        redis.kill()
        dbs.drop_all()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.asynccontextmanager
async def in_process(attendees: int) -> AsyncIterator[Stack]:
    from tests.fixtures.served import served_parley

    root = Path(tempfile.mkdtemp(prefix="parley-faults-"))
    data_dir = root / "data"
    parley = Parley("sqlite", data_dir, migrated_sqlite(data_dir))
    try:
        async with served_parley(parley, attendees=attendees, heartbeat_s=HEARTBEAT_S, idle_timeout_s=3.0) as served:
            yield Stack(
                "embedded, in-process", parley, [served.url], served.moderator, served.attendees, runtime=served.runtime
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


__all__ = ["HEARTBEAT_S", "Stack", "embedded", "in_process", "pg_admin_execute", "production"]
