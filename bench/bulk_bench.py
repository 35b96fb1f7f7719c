"""Bulk registration: how long the preview and the commit of a delegation list take.

``python -m bench bulk [--rows N] [--database URL]``: a CSV of N people (default 2,000, the default
``PARLEY_IMPORT_MAX_ROWS``) previewed, then committed into a fresh database (SQLite in a temporary
folder unless ``--database`` names an empty migrated-or-not PostgreSQL database). Wall time and the
process's CPU time are both printed: on a shared machine the CPU time is the steadier figure. The
commit's time is the time SQLite (embedded mode) keeps other writers waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select

from config.settings import Settings
from server.adapters.db import migrate
from server.adapters.db.engine import make_async_engine, make_sessionmaker
from server.adapters.db.models import Event
from server.programme.parser import load_programme
from server.services import bulk_registration as bulk
from server.services.auth import JoinLinks
from server.services.programmes import upsert_programme

ROOT = Path(__file__).resolve().parents[1]
SLUG = "idm-2022-1"


def delegation_list(rows: int) -> bytes:
    lines = ["name,email,organisation,category,country,language"]
    lines += [
        f"Delegate {i},delegate{i}@example.org,Mission {i},member_state,Country {i % 190},en" for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


async def measure(database_url: str, data_dir: Path, rows: int) -> dict[str, float]:
    settings = Settings(_env_file=None, database_url=database_url, data_dir=data_dir, secret_key="b" * 48)  # type: ignore[call-arg]
    sync_engine = create_engine(settings.sync_database_url)
    migrate.upgrade(sync_engine)
    sync_engine.dispose()
    engine = make_async_engine(settings)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            await upsert_programme(session, load_programme(ROOT / "config/programmes/idm-2022-1.yaml"))
        data = delegation_list(rows)
        limits = bulk.ImportLimits(max_bytes=len(data) + 1, max_rows=rows)
        async with sessions() as session:
            event_id = (await session.execute(select(Event.id).where(Event.slug == SLUG))).scalar_one()
            wall, cpu = time.perf_counter(), time.process_time()
            checked = await bulk.check_file(session, event_id, data, limits)
            preview = (time.perf_counter() - wall, time.process_time() - cpu)
        assert len(checked.valid) == rows
        wall, cpu = time.perf_counter(), time.process_time()
        async with sessions() as session, session.begin():
            committed = await bulk.commit(
                session, SLUG, event_id, data, JoinLinks("b" * 48), now=datetime.now(UTC), limits=limits
            )
        commit = (time.perf_counter() - wall, time.process_time() - cpu)
        assert len(committed.created) == rows
    finally:
        await engine.dispose()
    return {
        "bytes": len(data),
        "preview_s": preview[0],
        "preview_cpu_s": preview[1],
        "commit_s": commit[0],
        "commit_cpu_s": commit[1],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench bulk")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--database", default="", help="an empty PostgreSQL database (postgresql+asyncpg://…)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite+aiosqlite:///{folder}/bulk.db"
        result = asyncio.run(measure(url, Path(folder), args.rows))
    backend = url.split("+")[0].split(":")[0]
    print(
        f"bulk registration, {backend}, {args.rows} rows ({result['bytes']} bytes): "
        f"preview {result['preview_s']:.2f} s (cpu {result['preview_cpu_s']:.2f} s), "
        f"commit {result['commit_s']:.2f} s (cpu {result['commit_cpu_s']:.2f} s, "
        f"{1000 * result['commit_cpu_s'] / args.rows:.2f} ms a row)"
    )
    return 0
