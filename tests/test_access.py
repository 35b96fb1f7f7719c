"""The access matrix: every HTTP route and the live websocket, asked by every kind of principal, against
a real server on SQLite and PostgreSQL. Changing one route's role set (``server/services/access.py``,
or the capability a route names) makes a cell differ and this test fail. docs/access.md shows the
same matrix.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from sqlalchemy.orm import Session
from websockets.exceptions import InvalidStatus

from server.adapters.clock import SystemClock
from server.adapters.db.engine import make_sync_engine
from server.adapters.db.models import Event, EventRole, User
from server.app import create_app
from server.services import certificates, reports
from server.services.accounts import hash_password
from tests.fixtures.live import staff_token
from tests.fixtures.parley import STALE_AFTER, Parley, ServerProcess

SLUG = "idm-2022-1"
OTHER = "other-event"
PASSWORD = "a long enough password"

ANONYMOUS = "anonymous"
ATTENDEE = "attendee of this event"
ATTENDEE_ELSEWHERE = "attendee of another event"
MODERATOR = "moderator of this event"
MODERATOR_ELSEWHERE = "moderator of another event"
ORGANISER = "organiser of this event"
ORGANISER_ELSEWHERE = "organiser of another event"
STAFF_WITHOUT_ROLE = "staff account without a role"
PRINCIPALS = (
    ANONYMOUS,
    ATTENDEE,
    ATTENDEE_ELSEWHERE,
    MODERATOR,
    MODERATOR_ELSEWHERE,
    ORGANISER,
    ORGANISER_ELSEWHERE,
    STAFF_WITHOUT_ROLE,
)

EVERYONE = frozenset(PRINCIPALS)
SIGNED_IN = EVERYONE - {ANONYMOUS}
OF_THIS_EVENT = frozenset({ATTENDEE, MODERATOR, ORGANISER})
STAFF_OF_THIS_EVENT = frozenset({MODERATOR, ORGANISER})
ORGANISERS_OF_THIS_EVENT = frozenset({ORGANISER})

_emails = itertools.count(1)


def new_registration() -> dict[str, Any]:
    return {"name": "Matrix Person", "email": f"matrix{next(_emails)}@example.org", "category": "other"}


@dataclass(frozen=True)
class Row:
    """One route: who gets through (``allowed``) and with which answer; the others are refused."""

    method: str  # an HTTP method, or WS for the websocket
    path: str  # as routed, e.g. /api/events/{slug}/registrations/{id:id}/revoke
    allowed: frozenset[str]
    ok: int  # the status of a principal who gets through, with the request below
    body: dict[str, Any] | Callable[[], dict[str, Any]] | None = None
    query: dict[str, str] = field(default_factory=dict)
    anonymous: int = 401  # a refusal: not signed in
    forbidden: int = 403  # a refusal: signed in without the role

    def expected(self, who: str) -> int:
        if who in self.allowed:
            return self.ok
        return self.anonymous if who == ANONYMOUS else self.forbidden


# Route-major: each row is asked by every principal before the next row. Sign-out is last, since it ends
# the sessions. The statuses of public rows are the same for everyone (a bogus token is a bogus token).
MATRIX = (
    Row("GET", "/healthz", EVERYONE, 200),
    Row("GET", "/readyz", EVERYONE, 200),
    Row("GET", "/openapi.json", EVERYONE, 200),
    Row("GET", "/metrics", EVERYONE, 200),  # open by default; PARLEY_METRICS_TOKEN: tests/test_metrics.py
    Row("GET", "/api/events", EVERYONE, 200),
    Row("GET", "/api/events/{slug}", EVERYONE, 200),
    Row("GET", "/api/events/{slug}/statements", EVERYONE, 200),
    Row("GET", "/events/{slug}", EVERYONE, 200),
    Row("GET", "/moderate/{slug}", EVERYONE, 200),  # a static page: its data come from the guarded API
    Row("GET", "/organise/{slug}", EVERYONE, 200),
    Row("GET", "/login", EVERYONE, 200),
    Row("GET", "/join/{token}", EVERYONE, 200),
    Row("GET", "/signin/{token}", EVERYONE, 200),
    Row("POST", "/api/events/{slug}/registrations", EVERYONE, 201, body=new_registration),
    Row("POST", "/api/join/peek", EVERYONE, 200, body={"token": "{token}"}),
    Row("POST", "/api/join", EVERYONE, 200, body={"token": "{token}"}),
    Row("POST", "/api/auth/login", EVERYONE, 200, body={"email": "org@other.example", "password": PASSWORD}),
    Row("POST", "/api/auth/link", EVERYONE, 401, body={"token": "not-a-sign-in-link"}),
    Row("GET", "/api/me", SIGNED_IN, 200),
    Row("WS", "/ws/events/{slug}", OF_THIS_EVENT, 101, anonymous=403),  # refused handshakes are HTTP 403
    Row("GET", "/api/events/{slug}/attendance/timeline", STAFF_OF_THIS_EVENT, 200, query={"day": "2022-02-28"}),
    Row("GET", "/api/events/{slug}/registrations", ORGANISERS_OF_THIS_EVENT, 200),
    Row("GET", "/api/events/{slug}/registrations.csv", ORGANISERS_OF_THIS_EVENT, 200),
    Row("POST", "/api/events/{slug}/registrations/{id:id}/revoke", ORGANISERS_OF_THIS_EVENT, 204),
    Row("POST", "/api/events/{slug}/registrations/{id:id}/link", ORGANISERS_OF_THIS_EVENT, 200),
    # through the check: no file is sent, so the upload is refused for its (missing) media type
    Row("POST", "/api/events/{slug}/registrations/import/preview", ORGANISERS_OF_THIS_EVENT, 415),
    Row("POST", "/api/events/{slug}/registrations/import", ORGANISERS_OF_THIS_EVENT, 415),
    Row("GET", "/api/events/{slug}/reminders", ORGANISERS_OF_THIS_EVENT, 200),
    Row(
        "POST",
        "/api/events/{slug}/reminders/resend",
        ORGANISERS_OF_THIS_EVENT,
        409,  # through the check: that morning is long over
        body={"registration_id": "{id}", "day": "2022-02-28", "kind": "attendees-24h"},
    ),
    Row(
        "PUT",
        "/api/events/{slug}/reminders/schedule",
        ORGANISERS_OF_THIS_EVENT,
        200,
        body={"attendees": ["24h", "15m"], "speakers": ["24h", "45m"]},
    ),
    Row("GET", "/api/events/{slug}/speaking-order", ORGANISERS_OF_THIS_EVENT, 200),
    Row("PUT", "/api/events/{slug}/speaking-order", ORGANISERS_OF_THIS_EVENT, 200, body={"categories": None}),
    Row("POST", "/api/events/{slug}/lost-link", EVERYONE, 202, body=lambda: {"email": new_registration()["email"]}),
    Row("GET", "/api/events/{slug}/messages", ORGANISERS_OF_THIS_EVENT, 200),
    Row(
        "POST",
        "/api/events/{slug}/messages/preview",
        ORGANISERS_OF_THIS_EVENT,
        200,
        body={"audience": {"kind": "category", "category": "other"}},
    ),
    Row(
        "POST",
        "/api/events/{slug}/messages",
        ORGANISERS_OF_THIS_EVENT,
        202,
        body={
            "subject": {"fr": "Objet", "en": "Subject", "es": "Asunto"},
            "text": {"fr": "Texte", "en": "Text", "es": "Texto"},
            "audience": {"kind": "category", "category": "other"},
        },
    ),
    # through the check: the id is a registration's, no message has it
    Row("POST", "/api/events/{slug}/messages/{id:id}/resend", ORGANISERS_OF_THIS_EVENT, 404),
    Row("GET", "/api/events/{slug}/reports", ORGANISERS_OF_THIS_EVENT, 200),
    Row("POST", "/api/events/{slug}/reports", ORGANISERS_OF_THIS_EVENT, 202, body={"scope": "2022-02-28"}),
    Row("GET", "/api/events/{slug}/reports/{file}", ORGANISERS_OF_THIS_EVENT, 200),
    Row("GET", "/api/events/{slug}/certificates", ORGANISERS_OF_THIS_EVENT, 200),
    Row("POST", "/api/events/{slug}/certificates", ORGANISERS_OF_THIS_EVENT, 202, body={"scope": "2022-02-28"}),
    Row("GET", "/api/events/{slug}/certificates/all.zip", ORGANISERS_OF_THIS_EVENT, 200),
    Row("GET", "/api/events/{slug}/certificates/mine", frozenset({ATTENDEE}), 200),
    # through the check: this attendee has no certificate
    Row("GET", "/api/events/{slug}/certificates/mine/{file}", frozenset({ATTENDEE}), 404),
    Row("GET", "/verify", EVERYONE, 200),
    Row("GET", "/verify/{code}", EVERYONE, 200),  # the page; its JSON is public too (tests/test_certificates_http.py)
    Row("POST", "/api/auth/logout", SIGNED_IN, 204),
)


def routed(parley: Parley) -> set[tuple[str, str]]:
    """Every (method, path) the application routes, the static files aside."""
    found: set[tuple[str, str]] = set()
    for route in create_app(parley.settings()).routes:
        methods = getattr(route, "methods", None)
        if methods is not None:
            found |= {(m, route.path) for m in methods - {"HEAD"}}
        elif type(route).__name__ == "WebSocketRoute":
            found.add(("WS", route.path))
    return found


def fill(template: Any, values: dict[str, str]) -> Any:
    """``{name}`` and ``{name:converter}`` placeholders replaced (ids become integers in bodies)."""
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if not isinstance(template, str):
        return template
    whole = re.fullmatch(r"\{(\w+)(?::\w+)?\}", template)
    if whole and whole.group(1) == "id":
        return int(values["id"])
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], template)


async def handshake(server: ServerProcess, path: str, token: str | None) -> int:
    url = server.url.replace("http://", "ws://") + path
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with websockets.connect(url, origin=server.url, additional_headers=headers):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def ask(server: ServerProcess, row: Row, token: str | None, values: dict[str, str]) -> tuple[int, str]:
    """The status ``row`` answers for ``token``, and the problem code of a refusal."""
    path = fill(row.path, values)
    if row.method == "WS":
        return asyncio.run(handshake(server, path, token)), ""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = row.body() if callable(row.body) else row.body
    response = httpx.request(
        row.method,
        server.url + path,
        headers=headers,
        params=row.query,
        json=fill(body, values) if body is not None else None,
        timeout=30,
    )
    code = response.json().get("code", "") if response.headers.get("content-type") == "application/problem+json" else ""
    return response.status_code, code


def other_event_and_accounts(parley: Parley) -> None:
    """Another event with an organiser and a moderator, and a staff account with no role at all."""
    engine = make_sync_engine(parley.settings())
    with Session(engine) as session, session.begin():
        other = Event(slug=OTHER, title={"en": "Another event"}, timezone="UTC", languages=["en"], streams={})
        users = {
            email: User(email=email, name=email, password_hash=hash_password(PASSWORD))
            for email in ("org@other.example", "mod@other.example", "nobody@other.example")
        }
        session.add_all([other, *users.values()])
        session.flush()
        session.add(EventRole(user_id=users["org@other.example"].id, event_id=other.id, role="organiser"))
        session.add(EventRole(user_id=users["mod@other.example"].id, event_id=other.id, role="moderator"))
    engine.dispose()


def attendee_token(server: ServerProcess, slug: str) -> tuple[str, str]:
    """A registration of ``slug`` signed in: its session token and its join-link token."""
    registered = httpx.post(f"{server.url}/api/events/{slug}/registrations", json=new_registration())
    assert registered.status_code == 201, registered.text
    link = registered.json()["join_url"].rsplit("/", 1)[1]
    joined = httpx.post(f"{server.url}/api/join", json={"token": link})
    assert joined.status_code == 200, joined.text
    return str(joined.json()["session_token"]), link


def login(server: ServerProcess, email: str) -> str:
    response = httpx.post(f"{server.url}/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["session_token"])


def principals(server: ServerProcess, parley: Parley) -> tuple[dict[str, str | None], dict[str, str]]:
    """A session token per principal, and the values of the paths' placeholders."""
    other_event_and_accounts(parley)
    attendee, link = attendee_token(server, SLUG)
    tokens: dict[str, str | None] = {
        ANONYMOUS: None,
        ATTENDEE: attendee,
        ATTENDEE_ELSEWHERE: attendee_token(server, OTHER)[0],
        MODERATOR: staff_token(server, "moderator"),
        MODERATOR_ELSEWHERE: login(server, "mod@other.example"),
        ORGANISER: staff_token(server, "organiser"),
        ORGANISER_ELSEWHERE: login(server, "org@other.example"),
        STAFF_WITHOUT_ROLE: login(server, "nobody@other.example"),
    }
    # the registration organisers revoke and re-link: not one whose session the matrix uses
    target = httpx.post(f"{server.url}/api/events/{SLUG}/registrations", json=new_registration()).json()["id"]
    return tokens, {"slug": SLUG, "token": link, "id": str(target), "file": "2022-02-28.csv.zip", "code": "X"}


def test_every_route_is_in_the_matrix(sqlite_parley: Parley) -> None:
    """A new route must take its place in the matrix (and in docs/access.md) to pass."""
    assert routed(sqlite_parley) == {(row.method, row.path) for row in MATRIX}


def test_the_access_matrix_over_every_route_and_the_websocket(server: ServerProcess, parley: Parley) -> None:
    tokens, values = principals(server, parley)
    event_id = httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {tokens[ATTENDEE]}"}).json()[
        "event_id"
    ]
    reports.compile_report(
        make_sync_engine(parley.settings()),
        parley.data_dir,
        event_id,
        "2022-02-28",
        now=SystemClock().now(),
        stale_after=STALE_AFTER,
        formats=("csv.zip",),
    )
    certificates.issue(
        make_sync_engine(parley.settings()),
        parley.data_dir,
        event_id,
        "2022-02-28",
        now=SystemClock().now(),
        stale_after=STALE_AFTER,
        threshold=0.5,
        base_url=server.url,
    )
    wrong: list[str] = []
    for row in MATRIX:
        for who in PRINCIPALS:
            status, code = ask(server, row, tokens[who], values)
            if status != row.expected(who):
                wrong.append(f"{row.method} {row.path} as {who}: {status} {code}, expected {row.expected(who)}")
            elif status == 401 and row.allowed != EVERYONE:
                assert code == "not_signed_in", (row.path, code)
            elif status == 403 and row.method != "WS":
                assert code == "forbidden", (row.path, code)
    assert not wrong, "\n".join(wrong)


def test_an_unknown_event_is_404_once_signed_in_and_401_before(server: ServerProcess) -> None:
    """The check answers in one order everywhere: not signed in, then no such event, then no role."""
    organiser = staff_token(server, "organiser")
    attendee = attendee_token(server, SLUG)[0]
    values = {"slug": "no-such-event", "token": "x", "id": "1", "file": "2022-02-28.csv.zip", "code": "X"}
    guarded = [row for row in MATRIX if "{slug}" in row.path and row.allowed != EVERYONE]
    assert len(guarded) == 25
    for row in guarded:
        assert ask(server, row, None, values)[0] == row.anonymous, row.path
        for token in (attendee, organiser):
            status, code = ask(server, row, token, values)
            if row.method == "WS":
                assert status == 403, row.path  # the close code (4404) is lost before the handshake
            else:
                assert (status, code) == (404, "event_not_found"), row.path
