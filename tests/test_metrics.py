"""``GET /metrics``: what real servers, real websocket clients and a real Celery worker count.

``parley serve`` and ``parley worker`` write into one folder (``PARLEY_METRICS_DIR``, by default
``DATA_DIR/metrics``): any server's ``/metrics`` shows the sum over every process still running
for gauges, and over every process since the folder was prepared for counters.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from server.app import create_app
from tests.fixtures.celery import TaskClient, WorkerProcess
from tests.fixtures.live import LiveClient, register, staff_token
from tests.fixtures.parley import Parley, ServerProcess, free_port

pytestmark = pytest.mark.anyio


def sample(text: str, name: str, **labels: str) -> float:
    """The value of sample ``name`` with ``labels`` in an exposition; 0 when absent."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def scrape(server: ServerProcess, **headers: str) -> str:
    response = httpx.get(f"{server.url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def eventually(server: ServerProcess, check: Any, timeout: float = 10) -> str:
    """Scrape until ``check(text)`` holds: a socket's detach runs after its close frame is answered."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        text = scrape(server)
        if check(text) or asyncio.get_running_loop().time() > deadline:
            return text
        await asyncio.sleep(0.1)


async def test_a_session_is_counted_and_two_servers_sum(sqlite_parley: Parley) -> None:
    first = ServerProcess(sqlite_parley)
    second: ServerProcess | None = None
    clients: list[LiveClient] = []
    try:
        before = scrape(first)
        assert sample(before, "parley_ws_joins_total") == 0
        assert sample(before, "parley_ws_connections") == 0

        moderator = LiveClient(first, staff_token(first, "moderator"))
        ana = LiveClient(first, register(first, "Ana Silva"))
        ben = LiveClient(first, register(first, "Ben Okafor"))
        clients += [moderator, ana, ben]
        for client in clients:
            await client.connect()
        await moderator.ok("notice.set", text="Coffee at 11")
        text = await eventually(first, lambda t: sample(t, "parley_events_delivered_total") >= 3)
        assert sample(text, "parley_ws_joins_total") == 3
        assert sample(text, "parley_ws_join_seconds_count") == 3
        assert sample(text, "parley_ws_connections") == 3
        assert sample(text, "parley_events_published_total") >= 1
        # the notice reaches the three sockets of the public channel, in one fan-out round per event
        assert sample(text, "parley_events_delivered_total") >= 3
        rounds = sample(text, "parley_fanout_seconds_count")
        assert 1 <= rounds <= sample(text, "parley_events_published_total")
        assert sample(text, "parley_ws_try_again_closes_total") == 0
        assert "parley_periodic_job_failures_total" in text and "parley_ws_resyncs_total" in text
        assert "example.org" not in text and "Ana" not in text, "no personal data"

        # a second process on the same data folder: either server shows the sum of both
        second = ServerProcess(sqlite_parley)
        cleo = LiveClient(second, register(second, "Cleo Marsh"))
        clients.append(cleo)
        await cleo.connect()
        for server in (first, second):
            text = scrape(server)
            assert sample(text, "parley_ws_joins_total") == 4
            assert sample(text, "parley_ws_connections") == 4

        # a process that stops takes its live connections with it; what it counted stays
        await cleo.close()
        second.stop()
        text = await eventually(first, lambda t: sample(t, "parley_ws_connections") == 3)
        assert sample(text, "parley_ws_connections") == 3
        assert sample(text, "parley_ws_joins_total") == 4

        await ben.close()
        text = await eventually(first, lambda t: sample(t, "parley_ws_connections") == 2)
        assert sample(text, "parley_ws_connections") == 2
    finally:
        for client in clients:
            await client.close()
        first.stop()
        if second is not None:
            second.stop()


async def test_celery_task_outcomes_from_a_real_worker_are_counted(sqlite_parley: Parley) -> None:
    server = ServerProcess(sqlite_parley)
    worker_port = free_port()
    worker = WorkerProcess(sqlite_parley, "--pool=solo", name="metrics", PARLEY_WORKER_METRICS_PORT=str(worker_port))
    tasks = TaskClient(sqlite_parley.settings())
    try:
        tasks.run("parley.reminders.scan")
        with pytest.raises(TypeError):
            tasks.run("parley.reminders.scan", not_an_argument=1)
        # beside the server (the same data folder): in the server's /metrics; and on the worker's own port
        own = httpx.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=10)
        assert own.status_code == 200
        for text in (scrape(server), own.text):
            assert sample(text, "parley_celery_tasks_total", task="parley.reminders.scan", outcome="success") == 1
            assert sample(text, "parley_celery_tasks_total", task="parley.reminders.scan", outcome="failure") == 1
    finally:
        tasks.close()
        worker.stop()
        server.stop()


async def test_a_metrics_token_is_asked_for_when_set(sqlite_parley: Parley) -> None:
    app = create_app(sqlite_parley.settings(metrics_token="s3cret-token"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
            refused = await http.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["www-authenticate"] == "Bearer"
            assert refused.json()["status"] == 401
        given = await http.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
        assert given.status_code == 200
        assert "# TYPE parley_ws_joins_total counter" in given.text


async def test_metrics_are_open_without_a_token(sqlite_parley: Parley) -> None:
    app = create_app(sqlite_parley.settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        response = await http.get("/metrics")
        assert response.status_code == 200
        assert "# TYPE parley_fanout_seconds histogram" in response.text
        assert (await http.post("/metrics")).status_code == 405
