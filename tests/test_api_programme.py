"""The programme as served by a real `parley serve`, against the published page."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import httpx

from tests.fixtures.parley import Parley, ServerProcess
from tests.seed_page import load_seed_page


def person_line(person: dict) -> str:
    line = ", ".join(p for p in (person["name"], person["title"], person["affiliation"]) if p)
    return line + (" (message vidéo)" if person["video_message"] else "")


def hhmm(published: str) -> str:
    hours, minutes = published.split(":")
    return f"{int(hours):02d}:{minutes}"


def test_served_programme_matches_the_published_page(server: ServerProcess) -> None:
    page = load_seed_page()
    events = httpx.get(f"{server.url}/api/events").json()["events"]
    assert [e["slug"] for e in events] == ["idm-2022-1"]
    assert events[0]["first_day"] == "2022-02-28" and events[0]["last_day"] == "2022-03-02"

    doc = httpx.get(f"{server.url}/api/events/idm-2022-1").json()
    assert doc["title"]["fr"] == "Dialogue international sur la migration 2022 – première session"
    assert doc["title"]["en"]
    assert doc["timezone"] == "America/New_York"
    assert len(doc["days"]) == len(page.days) == 3
    for offset, (day, seed_day) in enumerate(zip(doc["days"], page.days, strict=True)):
        the_date = page.first_date + timedelta(days=offset)
        assert day["date"] == the_date.isoformat()
        assert day["title"]["fr"] == seed_day.label
        assert day["theme"]["fr"] == seed_day.theme
        assert day["theme"]["en"] and day["title"]["en"]
        assert day["starts_at"] == f"{the_date.isoformat()}T09:00:00-05:00"
        assert day["ends_at"] == f"{the_date.isoformat()}T12:00:00-05:00"
        assert len(day["segments"]) == len(seed_day.segments)
        for segment, seed in zip(day["segments"], seed_day.segments, strict=True):
            assert segment["title"]["fr"] == seed.heading
            assert segment["title"]["en"]
            assert segment["timezone"] == "America/New_York"
            assert segment["starts_at"] == f"{the_date.isoformat()}T{hhmm(seed.starts)}:00-05:00"
            assert segment["ends_at"] == f"{the_date.isoformat()}T{hhmm(seed.ends)}:00-05:00"
            moderators = [p for p in segment["people"] if p["role"] == "moderator"]
            speakers = [p for p in segment["people"] if p["role"] == "speaker"]
            assert [person_line(p) for p in moderators] == ([seed.moderator] if seed.moderator else [])
            assert [person_line(p) for p in speakers] == seed.speakers
            expected_kind = {"Ouverture": "opening", "Clôture": "closing"}.get(seed.heading.split(" :")[0], "panel")
            assert segment["kind"] == expected_kind


def test_nine_oclock_new_york_is_fourteen_utc(server: ServerProcess) -> None:
    doc = httpx.get(f"{server.url}/api/events/idm-2022-1").json()
    first = doc["days"][0]["segments"][0]
    assert datetime.fromisoformat(first["starts_at"]).astimezone(UTC) == datetime(2022, 2, 28, 14, 0, tzinfo=UTC)
    video = [p for d in doc["days"] for s in d["segments"] for p in s["people"] if p["video_message"]]
    assert [p["name"] for p in video] == ["Abdulla Shahid"]
    assert date.fromisoformat(doc["days"][-1]["date"]) == date(2022, 3, 2)


def test_unknown_event_is_a_problem_document(server: ServerProcess) -> None:
    response = httpx.get(f"{server.url}/api/events/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404 and body["code"] == "event_not_found" and "nope" in body["detail"]
    assert httpx.get(f"{server.url}/api/nothing-here").headers["content-type"] == "application/problem+json"


def test_health_and_readiness(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}


def test_readiness_reports_redis_down(sqlite_parley: Parley) -> None:
    from tests.fixtures.parley import free_port

    proc = ServerProcess(sqlite_parley, PARLEY_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    try:
        ready = httpx.get(f"{proc.url}/readyz", timeout=10)
        assert httpx.get(f"{proc.url}/healthz").status_code == 200
    finally:
        proc.stop()
    assert ready.status_code == 503
    body = ready.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] != "ok"
    assert "redis" in body["detail"]


def test_openapi_describes_every_http_route(server: ServerProcess) -> None:
    from starlette.routing import Route

    from server.app import create_app

    schema = httpx.get(f"{server.url}/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    app = create_app(Parley("sqlite", server.log.parent).settings())
    for route in app.routes:
        if isinstance(route, Route) and route.include_in_schema:
            for method in route.methods or ():
                if method == "HEAD":
                    continue
                path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
                assert method.lower() in schema["paths"][path], (method, path)


def test_pages_are_served_with_a_strict_content_security_policy(server: ServerProcess) -> None:
    page = httpx.get(f"{server.url}/events/idm-2022-1")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["referrer-policy"] == "no-referrer", "join tokens in paths must not leak"
    assert httpx.get(f"{server.url}/api/events").headers["x-content-type-options"] == "nosniff"
