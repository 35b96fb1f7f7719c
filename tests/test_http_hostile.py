"""Hostile input over HTTP against a real server: JSON nested too deeply, ids past any column, control
characters in one-line texts. Each gets a problem document (400, 404 or 422), never a 500, and nothing
is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server.core.model.base import MAX_SAFE_INTEGER
from server.protocol import ProtocolError, parse_command
from tests.fixtures.live import LiveClient, register, staff_token
from tests.fixtures.parley import Parley, ServerProcess, migrated_sqlite
from tests.fixtures.services import PostgresDatabases, pg_url

EVENT = "/api/events/idm-2022-1"
DEEP = "[" * 20_000 + "]" * 20_000  # 40 KB: under the body cap, far deeper than Python's stack
ATTENDEE = {"name": "Ines Duarte", "email": "ines@example.org", "category": "academia"}
TOO_LARGE_IDS = [MAX_SAFE_INTEGER + 1, 2**63 - 1, 2**63, 2**64, 10**40]


def is_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status
    return body


@dataclass
class Site:
    server: ServerProcess
    organiser_token: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One server per database for the whole module: nothing here changes what the others see."""
    data_dir: Path = tmp_path_factory.mktemp(f"hostile-{request.param}") / "data"
    if request.param == "sqlite":
        parley = Parley("sqlite", data_dir, migrated_sqlite(data_dir))
    else:
        dbs: PostgresDatabases = request.getfixturevalue("postgres_databases")
        data_dir.mkdir(parents=True)
        parley = Parley("postgres", data_dir, pg_url(dbs.new(), "postgresql+asyncpg"))
    server = ServerProcess(parley)
    try:
        yield Site(server, staff_token(server, "organiser"))
    finally:
        server.stop()


def organiser(site: Site) -> httpx.Client:
    return httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {site.organiser_token}"}, timeout=30)


@pytest.mark.parametrize("path", [f"{EVENT}/registrations", "/api/join", "/api/join/peek", "/api/auth/login"])
def test_json_nested_too_deeply_is_a_400_problem(site: Site, path: str) -> None:
    response = httpx.post(site.url + path, content=DEEP, headers={"content-type": "application/json"})
    assert is_problem(response, 400)["code"] == "bad_json"
    assert httpx.get(f"{site.url}/healthz").status_code == 200


@pytest.mark.anyio
async def test_json_nested_too_deeply_on_the_websocket_is_bad_json(site: Site) -> None:
    attendee = LiveClient(site.server, register(site.server, "Deep Diver"))
    await attendee.connect()
    await attendee.ws.send(DEEP)
    assert (await attendee.expect("error"))["code"] == "bad_json"
    await attendee.ws.send('{"type": "question.ask", "cid": "d1", "text": ' + DEEP + "}")
    assert (await attendee.expect("error"))["code"] == "bad_json"
    assert (await attendee.command("ping"))["type"] == "result", "the connection is still usable"
    await attendee.close()


@pytest.mark.parametrize("action", ["revoke", "link"])
def test_ids_out_of_range_in_paths_are_404_problems(site: Site, action: str) -> None:
    with organiser(site) as client:
        reg_id = client.post(f"{EVENT}/registrations", json={**ATTENDEE, "email": f"{action}@example.org"}).json()["id"]
        for too_large in [*TOO_LARGE_IDS, 0]:
            response = client.post(f"{EVENT}/registrations/{too_large}/{action}")
            is_problem(response, 404)
        assert client.post(f"{EVENT}/registrations/{reg_id}/{action}").status_code in {200, 204}


def test_ids_out_of_range_in_bodies_are_422_problems(site: Site) -> None:
    with organiser(site) as client:
        for too_large in TOO_LARGE_IDS:
            body = {"registration_id": too_large, "day": "2022-04-05", "kind": "attendees-24h"}
            response = client.post(f"{EVENT}/reminders/resend", json=body)
            errors = is_problem(response, 422)["errors"]
            assert [e["field"] for e in errors] == ["registration_id"]  # type: ignore[attr-defined]


CONTROLS = {
    "NUL": "\x00",
    "ESC": "\x1b",
    "DEL": "\x7f",
    "NEL": "\x85",
    "CSI": "\x9b",
    "CR LF": "\r\n",
    "LF": "\n",
    "LINE SEPARATOR": "\u2028",
}


@pytest.mark.parametrize("field", ["name", "organisation", "country", "email"])
def test_control_characters_in_registrations_are_refused_and_not_stored(site: Site, field: str) -> None:
    for label, char in CONTROLS.items():
        value = {"email": f"ines{char}x@example.org"}.get(field, f"Ines{char}Bcc: x@example.org")
        response = httpx.post(f"{site.url}{EVENT}/registrations", json={**ATTENDEE, field: value})
        errors = is_problem(response, 422)["errors"]
        assert field in [e["field"] for e in errors], (label, errors)  # type: ignore[attr-defined]
    with organiser(site) as client:
        stored = client.get(f"{EVENT}/registrations").json()["registrations"]
        assert [r for r in stored if any(c in str(r[field]) for c in CONTROLS.values())] == []


def test_control_characters_in_other_one_line_fields_are_refused(site: Site) -> None:
    login = httpx.post(f"{site.url}/api/auth/login", json={"email": "a\x00@example.org", "password": "x"})
    assert "email" in [e["field"] for e in is_problem(login, 422)["errors"]]  # type: ignore[attr-defined]
    with organiser(site) as client:
        reg_id = client.post(f"{EVENT}/registrations", json={**ATTENDEE, "email": "kind@example.org"}).json()["id"]
        body = {"registration_id": reg_id, "day": "2022-04-05", "kind": "attendees\x00-24h"}
        errors = is_problem(client.post(f"{EVENT}/reminders/resend", json=body), 422)["errors"]
        assert [e["field"] for e in errors] == ["kind"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("char", ["\x85", "\x9b", "\x80"])
def test_c1_controls_are_refused_by_the_protocol_texts_too(char: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_command(json.dumps({"type": "question.ask", "cid": "c1", "text": f"why{char}not"}))
    assert refused.value.code == "invalid" and "control characters" in str(refused.value)


@pytest.mark.parametrize("path", ["/api/events/%00", "/api/events/idm%1B2022/registrations.csv", "/join/%C2%85"])
def test_control_characters_in_paths_are_404_problems(site: Site, path: str) -> None:
    with organiser(site) as client:
        is_problem(client.get(path), 404)
        is_problem(client.post(path, json=ATTENDEE), 404)
