"""The report tasks through a real Celery worker (`parley worker`, the embedded SQLite broker), sent
by name as the server sends them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.adapters.db.engine import make_sync_engine
from server.services import reports
from tests.fixtures.celery import TaskClient, WorkerProcess
from tests.fixtures.parley import STALE_AFTER, Parley
from tests.test_reports import NOW, build_scenario


@pytest.fixture()
def worker(sqlite_parley: Parley) -> Iterator[tuple[Parley, TaskClient]]:
    process = WorkerProcess(sqlite_parley, "--pool=solo", name="reports")
    client = TaskClient(sqlite_parley.settings())
    try:
        yield sqlite_parley, client
    finally:
        client.close()
        process.kill()  # nothing to finish: no warm shutdown to wait for


def test_the_worker_compiles_on_demand_and_the_scan_compiles_each_morning_once(
    worker: tuple[Parley, TaskClient], tmp_path: Path
) -> None:
    parley, client = worker
    engine = make_sync_engine(parley.settings())
    scenario = build_scenario(engine)

    done = client.run("parley.reports.compile", event_id=scenario.event_id, scope="2022-02-28")
    assert done["complete"] is True and set(done["files"]) == set(reports.FORMATS)
    # the worker's files (compiled at the real now) are the bytes of a compilation at 12:20 that day
    expected = reports.compile_report(
        engine, tmp_path, scenario.event_id, "2022-02-28", now=NOW, stale_after=STALE_AFTER
    )
    for fmt, path in expected.files.items():
        assert (parley.data_dir / "reports" / "report-test" / f"2022-02-28.{fmt}").read_bytes() == path.read_bytes()

    assert sorted(c["scope"] for c in client.run("parley.reports.scan_due")) == ["2022-03-01", "event"]
    assert client.run("parley.reports.scan_due") == [], "each report once"
    unknown = client.run("parley.reports.compile", event_id=scenario.event_id, scope="2022-03-09")
    assert "error" in unknown
    engine.dispose()
