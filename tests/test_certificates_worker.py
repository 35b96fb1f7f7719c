"""The certificate tasks through a real Celery worker (`parley worker`, the embedded SQLite broker),
sent by name as the server sends them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.adapters.db.engine import make_sync_engine
from server.adapters.db.models import Certificate
from tests.fixtures.celery import TaskClient, WorkerProcess
from tests.fixtures.parley import Parley
from tests.test_reports import build_scenario


@pytest.fixture()
def worker(sqlite_parley: Parley) -> Iterator[tuple[Parley, TaskClient]]:
    process = WorkerProcess(sqlite_parley, "--pool=solo", name="certificates")
    client = TaskClient(sqlite_parley.settings())
    try:
        yield sqlite_parley, client
    finally:
        client.close()
        process.kill()


def test_the_worker_issues_on_demand_and_the_scan_issues_the_rest_once(worker: tuple[Parley, TaskClient]) -> None:
    parley, client = worker
    engine = make_sync_engine(parley.settings())
    s = build_scenario(engine)

    done = client.run("parley.certificates.issue", event_id=s.event_id, scope="2022-02-28")
    assert done["certificates"] == 2 and done["zip"].endswith("certificates/report-test/certificates.zip")
    assert sorted(i["scope"] for i in client.run("parley.certificates.scan_due")) == ["2022-03-01", "event"]
    assert client.run("parley.certificates.scan_due") == [], "each scope once"
    assert "error" in client.run("parley.certificates.issue", event_id=s.event_id, scope="2022-03-09")
    with Session(engine) as session:
        scopes = sorted(c.scope for c in session.execute(select(Certificate)).scalars())
    assert scopes == ["2022-02-28", "2022-02-28", "2022-03-01", "event"]
    engine.dispose()
