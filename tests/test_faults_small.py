"""A small size of ``python -m bench faults`` (docs/reliability.md, "Faults and figures"), so the
figures there cannot rot: 20 clients that resume like connection.js, a moderator posting 40
notices, one fault in the middle. Afterwards no client lost an event (every seq applied or covered
by a resync), none got one twice, and every client's state equals a fresh snapshot."""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

from bench.faults_bench import SCENARIOS, run_bounded
from tests.fixtures.services import need

BY_NAME = {spec.name: spec for spec in SCENARIOS}
CLIENTS, EVENTS = 20, 40


def run(name: str) -> dict[str, Any]:
    row = asyncio.run(run_bounded(BY_NAME[name], CLIENTS, EVENTS, storm=0))
    assert "error" not in row, row
    return row


def assert_nothing_lost_nothing_twice(row: dict[str, Any]) -> None:
    assert row["committed"] >= EVENTS - sum(row["commands_refused"].values()) > 0, row
    assert row["lost"] == 0, row["lost_detail"]
    assert row["duplicated"] == 0 and row["diverged"] == 0, row
    assert row["delivered"] + row["covered"] == row["expected"] == row["clients"] * row["committed"], row
    assert row["states_equal"] == row["clients"] == CLIENTS, row


def test_a_lost_publish_is_caught_up_from_the_event_log() -> None:
    row = run("lost-publish")
    assert_nothing_lost_nothing_twice(row)
    assert row["commands_refused"] == {}
    assert row["server"]["feed_restarts"] == 0


def test_a_server_killed_in_production_loses_nothing(postgres_available: bool) -> None:
    need("PostgreSQL", postgres_available)
    need("redis-server (executable)", shutil.which("redis-server") is not None)
    row = run("sigkill-production")
    assert_nothing_lost_nothing_twice(row)
    assert row["reconnects"] >= 1, "the clients of the killed server had to reconnect"


def test_a_redis_restart_loses_nothing(postgres_available: bool) -> None:
    need("PostgreSQL", postgres_available)
    need("redis-server (executable)", shutil.which("redis-server") is not None)
    row = run("redis-restart")
    assert_nothing_lost_nothing_twice(row)
