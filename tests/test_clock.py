"""The clock: one per process, chosen from the settings, injected into routes, services and tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker
from starlette.testclient import TestClient

from server.adapters.clock import ManualClock, SystemClock, clock_for, parse_instant
from server.adapters.db.models import Registration, WebSession
from server.app import create_app
from server.services.auth import SESSION_DAYS
from tests.fixtures.parley import ROOT, Parley
from workers.celery_app import WorkerResources

T0 = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)


def test_a_manual_clock_stands_still_until_set_or_advanced() -> None:
    clock = ManualClock(T0)
    assert clock.now() == clock.now() == T0
    assert clock.advance(90) == T0 + timedelta(seconds=90) == clock.now()
    assert clock.advance(timedelta(days=1)) == T0 + timedelta(days=1, seconds=90)
    clock.set(datetime(2031, 5, 4, 9, 0, tzinfo=timezone(timedelta(hours=-3))))
    assert clock.now() == T0 and clock.now().tzinfo is UTC


def test_a_manual_clock_refuses_a_naive_instant_and_going_back() -> None:
    with pytest.raises(ValueError, match="naive"):
        ManualClock(datetime(2031, 5, 4, 12, 0))  # noqa: DTZ001 - the point of the test
    clock = ManualClock(T0)
    with pytest.raises(ValueError, match="naive"):
        clock.set(datetime(2031, 5, 4, 12, 0))  # noqa: DTZ001
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)
    assert clock.now() == T0


def test_the_system_clock_is_aware_utc_and_the_settings_choose_it(sqlite_parley: Parley) -> None:
    before = datetime.now(UTC)
    now = clock_for(sqlite_parley.settings()).now()
    assert now.tzinfo is UTC and before <= now <= datetime.now(UTC)
    assert isinstance(clock_for(sqlite_parley.settings()), SystemClock)


def test_a_tasks_now_argument_needs_its_offset_and_defaults_to_the_workers_clock(sqlite_parley: Parley) -> None:
    assert parse_instant("2031-05-04T08:00:00-04:00") == T0
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_instant("2031-05-04T12:00:00")
    settings = sqlite_parley.settings()
    resources = WorkerResources(settings, sessionmaker(), ManualClock(T0))
    assert resources.now("2031-05-04T14:30:00+02:00") == T0 + timedelta(minutes=30)
    assert resources.now(None) == resources.now("") == T0


def test_routes_and_services_run_on_the_apps_clock(sqlite_parley: Parley) -> None:
    """Registered, signed in and signed out again by the app's clock: a session opened at T0 is
    refused once that clock has passed its expiry, whatever the machine's clock says."""
    assert sqlite_parley.cli("programme", "load", str(ROOT / "config/programmes/idm-2022-1.yaml")).returncode == 0
    clock = ManualClock(T0)
    app = create_app(sqlite_parley.settings(), clock=clock)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        state: dict[str, Any] = client.app_state
        assert state["clock"] is clock and state["live"].clock is clock
        body = {"name": "Ada Obi", "email": "ada@example.org", "category": "academia"}
        created = client.post("/api/events/idm-2022-1/registrations", json=body)
        assert created.status_code == 201, created.text
        clock.advance(timedelta(hours=1))
        joined = client.post("/api/join", json={"token": created.json()["join_url"].rsplit("/", 1)[1]})
        assert joined.status_code == 200, joined.text
        bearer = {"Authorization": f"Bearer {joined.json()['session_token']}"}
        client.cookies.clear()
        clock.advance(timedelta(days=SESSION_DAYS - 1))
        assert client.get("/api/me", headers=bearer).status_code == 200
        clock.advance(timedelta(days=2))
        assert client.get("/api/me", headers=bearer).status_code == 401, "expired by the app's clock"

    engine = create_engine(sqlite_parley.settings().sync_database_url)
    try:
        with engine.connect() as connection:
            created_at = connection.execute(select(Registration.created_at)).scalar_one()
            expires_at = connection.execute(select(WebSession.expires_at)).scalar_one()
    finally:
        engine.dispose()
    assert created_at == T0
    assert expires_at == T0 + timedelta(hours=1, days=SESSION_DAYS)
