"""Certificate routes against a real server: who may list, issue and download (organisers of the
event; an attendee only their own), what an attendee downloads, and the public verification
(genuine, unknown, malformed, tampered, throttled), as problem JSON where refused.

One server (SQLite) for the module; the access matrix (tests/test_access.py) asks every certificate
route of a server on each database too."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pypdf
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.adapters.clock import SystemClock
from server.adapters.db.engine import make_sync_engine
from server.adapters.db.models import Event, EventRole, Presence, Registration, User
from server.services import certificates
from server.services.accounts import hash_password
from tests.fixtures.live import register, staff_token
from tests.fixtures.parley import STALE_AFTER, Parley, ServerProcess, migrated_sqlite

SLUG = "idm-2022-1"
BASE = f"/api/events/{SLUG}/certificates"
PASSWORD = "another long password"
JSON = {"Accept": "application/json"}


def client(server: ServerProcess, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body


def other_event_people(server: ServerProcess, parley: Parley) -> tuple[str, str]:
    """An organiser of another event (password sign-in) and an attendee of it: their session tokens."""
    engine = make_sync_engine(parley.settings())
    with Session(engine) as session, session.begin():
        other = Event(slug="other-event", title={"en": "Another event"}, timezone="UTC", languages=["en"], streams={})
        user = User(email="org@other.example", name="Other Organiser", password_hash=hash_password(PASSWORD))
        session.add_all([other, user])
        session.flush()
        session.add(EventRole(user_id=user.id, event_id=other.id, role="organiser"))
    engine.dispose()
    login = httpx.post(f"{server.url}/api/auth/login", json={"email": "org@other.example", "password": PASSWORD})
    assert login.status_code == 200, login.text
    joined = httpx.post(
        f"{server.url}/api/events/other-event/registrations",
        json={"name": "Olga Other", "email": "olga@example.org", "category": "other"},
    )
    assert joined.status_code == 201, joined.text
    session_token = httpx.post(f"{server.url}/api/join", json={"token": joined.json()["join_url"].rsplit("/", 1)[1]})
    return str(login.json()["session_token"]), str(session_token.json()["session_token"])


def attend_and_issue(server: ServerProcess, parley: Parley, minutes: dict[str, int]) -> int:
    """Presence on 28 February 2022 (the shipped programme's first morning, long over) for the named
    attendees, then the morning's certificates issued as the worker does."""
    engine = make_sync_engine(parley.settings())
    with Session(engine) as session, session.begin():
        event = session.execute(select(Event).where(Event.slug == SLUG)).scalar_one()
        day = event.days[0]
        for name, length in minutes.items():
            reg = session.execute(select(Registration).where(Registration.name == name)).scalar_one()
            session.add(
                Presence(
                    event_id=event.id,
                    registration_id=reg.id,
                    connection_id=f"cert-{reg.id}",
                    server_id="t",
                    started_at=day.starts_at,
                    last_seen_at=day.starts_at + timedelta(minutes=length),
                    ended_at=day.starts_at + timedelta(minutes=length),
                )
            )
        event_id = event.id
    certificates.issue(
        engine,
        parley.data_dir,
        event_id,
        "2022-02-28",
        now=SystemClock().now(),
        stale_after=STALE_AFTER,
        threshold=0.5,
        base_url=server.url,
    )
    engine.dispose()
    return event_id


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("certificates") / "data"
    proc = ServerProcess(
        Parley("sqlite", data_dir, migrated_sqlite(data_dir)), PARLEY_VERIFY_MAX_FAILURES_PER_ADDRESS="8"
    )
    yield proc
    proc.stop()


def test_organisers_get_every_certificate_and_attendees_only_their_own(server: ServerProcess) -> None:
    parley = server.parley
    amara = register(server, "Amara Okafor", organisation="Mission of Nigeria", language="en")
    bruno = register(server, "Bruno Costa", language="es")
    other_organiser, other_attendee = other_event_people(server, parley)
    organiser, moderator = staff_token(server, "organiser"), staff_token(server, "moderator")
    with client(server, organiser) as org:
        assert org.get(BASE).json() == {"scopes": [], "total": 0, "zip": None}
        assert_problem(org.get(f"{BASE}/all.zip"), 404, "no_certificates")
    attend_and_issue(server, parley, {"Amara Okafor": 180, "Bruno Costa": 20})

    with client(server, organiser) as org:
        listed = org.get(BASE).json()
        assert [(s["scope"], s["count"]) for s in listed["scopes"]] == [("2022-02-28", 1)]
        assert listed["total"] == 1 and listed["zip"]["url"] == f"{BASE}/all.zip"
        download = org.get(f"{BASE}/all.zip")
        assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
        assert download.headers["cache-control"] == "private, no-store"
        assert len(download.content) == listed["zip"]["bytes"]
        with zipfile.ZipFile(io.BytesIO(download.content)) as z:
            pdfs = [n for n in z.namelist() if n.endswith(".pdf")]
            assert len(pdfs) == 1 and pdfs[0].startswith("2022-02-28/") and pdfs[0].endswith("-amara-okafor.pdf")
            in_zip = z.read(pdfs[0])
        queued = org.post(BASE, json={"scope": "2022-02-28"})
        assert queued.status_code == 202 and queued.json()["status"] == "queued"
        assert_problem(org.post(BASE, json={"scope": "2022-03-09"}), 404, "scope_not_found")
        assert_problem(org.post(BASE, json={"scope": "yesterday"}), 422)
        assert_problem(org.get(f"{BASE}/mine"), 403, "forbidden")

    with client(server, amara) as me:
        mine = me.get(f"{BASE}/mine").json()["certificates"]
        assert len(mine) == 1
        cert = mine[0]
        assert (cert["scope"], cert["kind"], cert["minutes"]) == ("2022-02-28", "morning", 180.0)
        assert cert["verify_url"] == f"{server.url}/verify/{cert['code']}"
        pdf = me.get(cert["url"])
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content == in_zip, "the attendee's download is the organisers' file"
        text = " ".join(pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().split())
        assert "Amara Okafor" in text and "Mission of Nigeria" in text and cert["code"] in text
        assert_problem(me.get(f"{BASE}/mine/event.pdf"), 404, "no_certificate")
        assert_problem(me.get(f"{BASE}/mine/..%2F..%2Fsecret_key"), 404)
        for path in (BASE, f"{BASE}/all.zip"):
            assert_problem(me.get(path), 403, "forbidden")
        assert_problem(me.post(BASE, json={"scope": "2022-02-28"}), 403, "forbidden")

    with client(server, bruno) as me:  # 20 minutes of 180: none, and no way to ask for someone else's
        assert me.get(f"{BASE}/mine").json() == {"certificates": []}
        assert_problem(me.get(f"{BASE}/mine/2022-02-28.pdf"), 404, "no_certificate")

    for token in (other_organiser, moderator):
        with client(server, token) as them:
            for path in (BASE, f"{BASE}/all.zip", f"{BASE}/mine"):
                assert_problem(them.get(path), 403, "forbidden")
            assert_problem(them.post(BASE, json={"scope": "2022-02-28"}), 403, "forbidden")
    with client(server, other_attendee) as them:
        assert_problem(them.get(f"{BASE}/mine"), 403, "forbidden")
        assert_problem(them.get(f"{BASE}/mine/2022-02-28.pdf"), 403, "forbidden")
    with client(server) as anonymous:
        for path in (BASE, f"{BASE}/all.zip", f"{BASE}/mine"):
            assert_problem(anonymous.get(path), 401, "not_signed_in")


def test_verification_says_genuine_or_not_and_nothing_more(server: ServerProcess) -> None:
    chidi = register(server, "Chidi Eze", organisation="Mission of Nigeria", language="fr")
    attend_and_issue(server, server.parley, {"Chidi Eze": 120})
    with client(server, chidi) as me:
        code = me.get(f"{BASE}/mine").json()["certificates"][0]["code"]

    with client(server) as anyone:
        genuine = anyone.get(f"/verify/{code}", headers=JSON)
        assert genuine.status_code == 200, genuine.text
        assert genuine.json() == {
            "genuine": True,
            "code": code,
            "kind": "morning",
            "name": "Chidi Eze",
            "organisation": "Mission of Nigeria",
            "event": genuine.json()["event"],
            "first_day": "2022-02-28",
            "last_day": "2022-02-28",
            "minutes": 120.0,
            "threshold": 0.5,
            "language": "fr",
            "verify_url": f"{server.url}/verify/{code}",
        }
        assert "@" not in genuine.text, "no email"
        typed = code.lower().replace("-", " ").replace("0", "o")
        assert anyone.get(f"/verify/{typed}", headers=JSON).json() == genuine.json()

        tampered = code[:-1] + ("A" if code[-1] != "A" else "B")
        refusals = [
            anyone.get(f"/verify/{path}", headers=JSON)
            for path in (tampered, "0" * 20, "abc", "not-a-code-at-all!", "%E2%9C%93" * 3, "A" * 5000)
        ]
        bodies = [assert_problem(r, 404, "not_genuine") for r in refusals]
        assert all(body == bodies[0] for body in bodies), "unknown and malformed alike"
        assert bodies[0]["detail"] == "not a genuine certificate"

        page = anyone.get(f"/verify/{code}", headers={"Accept": "text/html,*/*;q=0.8"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert anyone.get("/verify").status_code == 200

        # six unknown codes so far; the eighth within the window closes the door, genuine codes too
        for _ in range(2):
            assert_problem(anyone.get(f"/verify/{'1' * 20}", headers=JSON), 404)
        throttled = assert_problem(anyone.get(f"/verify/{code}", headers=JSON), 429, "too_many_attempts")
        assert throttled["status"] == 429
        assert 0 < int(anyone.get(f"/verify/{code}", headers=JSON).headers["retry-after"]) <= 900
