"""Report routes against a real server, on SQLite and PostgreSQL: who may list, compile, download
and see the live timeline (401 / 403 / 404 as problem JSON), and that a download is the file."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.adapters.clock import SystemClock
from server.adapters.db.engine import make_sync_engine
from server.adapters.db.models import Event, EventRole, Presence, Registration, User
from server.services import reports
from server.services.accounts import hash_password
from tests.fixtures.live import register, staff_token
from tests.fixtures.parley import STALE_AFTER, Parley, ServerProcess

SLUG = "idm-2022-1"
REPORTS = "/api/events/idm-2022-1/reports"
TIMELINE = "/api/events/idm-2022-1/attendance/timeline"


@pytest.fixture()
def report_server(server: ServerProcess) -> ServerProcess:
    return server


def client(server: ServerProcess, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def other_event_moderator(server: ServerProcess, parley: Parley) -> str:
    """A moderator of another event, signed in with a password (rows written straight to the database)."""
    engine = make_sync_engine(parley.settings())
    with Session(engine) as session, session.begin():
        other = Event(
            slug="other-event", title={"en": "Another event"}, timezone="America/New_York", languages=["en"], streams={}
        )
        user = User(
            email="other@example.org", name="Other Moderator", password_hash=hash_password("another long password")
        )
        session.add_all([other, user])
        session.flush()
        session.add(EventRole(user_id=user.id, event_id=other.id, role="moderator"))
    engine.dispose()
    login = httpx.post(
        f"{server.url}/api/auth/login", json={"email": "other@example.org", "password": "another long password"}
    )
    assert login.status_code == 200, login.text
    return str(login.json()["session_token"])


def attend_the_first_morning(parley: Parley) -> int:
    """Two attendees' presence on 28 February 2022 (09:00-12:00 New York), straight into the database."""
    engine = make_sync_engine(parley.settings())
    with Session(engine) as session, session.begin():
        event_id = session.execute(select(Event.id).where(Event.slug == SLUG)).scalar_one()
        regs = session.execute(select(Registration.id).where(Registration.event_id == event_id)).scalars().all()
        day = session.execute(select(Event).where(Event.id == event_id)).scalar_one().days[0]
        for index, reg in enumerate(regs[:2]):
            start = day.starts_at + timedelta(minutes=30 * index)
            session.add(
                Presence(
                    event_id=event_id,
                    registration_id=reg,
                    connection_id=f"report-{index}",
                    server_id="t",
                    started_at=start,
                    last_seen_at=start + timedelta(hours=1),
                    ended_at=start + timedelta(hours=1),
                )
            )
    engine.dispose()
    return int(event_id)


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_only_the_events_organisers_list_compile_and_download_reports(
    report_server: ServerProcess, parley: Parley
) -> None:
    server = report_server
    attendee = register(server, "Amina Diallo", category="member_state", country="SN")
    register(server, "Ben Okafor", category="civil_society", country="NG")
    event_id = attend_the_first_morning(parley)
    done = reports.compile_report(
        make_sync_engine(parley.settings()),
        parley.data_dir,
        event_id,
        "2022-02-28",
        now=SystemClock().now(),
        stale_after=STALE_AFTER,
    )
    organiser = client(server, staff_token(server, "organiser"))
    moderator = client(server, staff_token(server, "moderator"))
    outsider = client(server, other_event_moderator(server, parley))
    body = {"scope": "2022-02-28"}

    # not signed in: 401; an attendee, the event's moderator or another event's moderator: 403
    for who, status in ((client(server), 401), (client(server, attendee), 403), (moderator, 403), (outsider, 403)):
        assert_problem(who.get(REPORTS), status)
        assert_problem(who.get(f"{REPORTS}/2022-02-28.pdf"), status)
        assert_problem(who.post(REPORTS, json=body), status)

    listed = organiser.get(REPORTS)
    assert listed.status_code == 200
    entries = listed.json()["reports"]
    assert [(r["scope"], r["format"]) for r in entries] == [("2022-02-28", f) for f in ("csv.zip", "xlsx", "pdf")]
    for entry in entries:
        assert entry["url"] == f"{REPORTS}/2022-02-28.{entry['format']}" and entry["complete"] is True
        assert entry["bytes"] == done.files[entry["format"]].stat().st_size and entry["compiled_at"].startswith("20")
        download = organiser.get(entry["url"])
        assert download.status_code == 200 and download.content == done.files[entry["format"]].read_bytes()
        assert download.headers["content-type"].startswith(reports.MEDIA_TYPES[entry["format"]])
        assert f'filename="{SLUG}-2022-02-28.{entry["format"]}"' in download.headers["content-disposition"]
    assert download.content.startswith(b"%PDF")

    # unknown scope or format, or not compiled: 404
    for name in ("2022-02-28.docx", "nonsense", "..%2F..%2Fparley.db", "2022-03-01.pdf", "event.xlsx"):
        assert_problem(organiser.get(f"{REPORTS}/{name}"), 404)
    assert_problem(organiser.get("/api/events/no-such-event/reports"), 404)

    # on demand: queued by name for a worker (the embedded broker is a SQLite file)
    queued = organiser.post(REPORTS, json=body)
    assert queued.status_code == 202, queued.text
    assert queued.json()["scope"] == "2022-02-28" and queued.json()["task_id"]
    assert organiser.post(REPORTS, json={"scope": "event"}).status_code == 202
    with sqlite3.connect(parley.data_dir / "broker.db") as broker:
        payloads = [json.loads(row[0]) for row in broker.execute("SELECT payload FROM kombu_message")]
    sent = [(p["headers"]["task"], p["headers"]["kwargsrepr"]) for p in payloads]
    assert ("parley.reports.compile", f"{{'event_id': {event_id}, 'scope': '2022-02-28'}}") in sent
    assert_problem(organiser.post(REPORTS, json={"scope": "2022-03-09"}), 404)
    assert_problem(organiser.post(REPORTS, json={"scope": "tomorrow"}), 422)
    assert_problem(organiser.post(REPORTS, content="{", headers={"content-type": "application/json"}), 400)


def test_the_live_timeline_is_for_the_events_organisers_and_moderators(
    report_server: ServerProcess, parley: Parley
) -> None:
    server = report_server
    attendee = register(server, "Amina Diallo")
    attend_the_first_morning(parley)
    outsider = client(server, other_event_moderator(server, parley))
    url = f"{TIMELINE}?day=2022-02-28"
    assert_problem(client(server).get(url), 401)
    assert_problem(client(server, attendee).get(url), 403)
    assert_problem(outsider.get(url), 403)
    tokens = {role: staff_token(server, role) for role in ("organiser", "moderator")}  # one-time links
    for role, token in tokens.items():
        response = client(server, token).get(url)
        assert response.status_code == 200, response.text
        payload = response.json()
        assert payload["day"] == "2022-02-28" and len(payload["minutes"]) == 180  # 09:00-12:00, nothing went live
        assert payload["minutes"][0] == {"minute": "2022-02-28T09:00:00-05:00", "present": 1}
        assert [m["present"] for m in payload["minutes"][59:61]] == [1, 0]  # Amina left at 10:00
        assert payload["segments"][0]["title"].startswith("Opening")
        assert payload["segments"][0]["unique_attendees"] == 1 and payload["segments"][0]["peak"] == 1
    organiser = client(server, tokens["organiser"])
    assert_problem(organiser.get(f"{TIMELINE}?day=2022-04-01"), 404)
    assert_problem(organiser.get(f"{TIMELINE}?day=someday"), 422)
    assert_problem(organiser.get(TIMELINE), 422)
