"""Registration, join links and staff sign-in against a real server."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.fixtures.parley import ServerProcess

ATTENDEE = {
    "name": "Amina Diallo",
    "email": "Amina.Diallo@example.org",
    "organisation": "Mission permanente du Sénégal",
    "category": "member_state",
    "country": "SN",
    "language": "fr",
    "listed": True,
    "timezone": "Africa/Dakar",
}


def register(server: ServerProcess, **overrides: object) -> httpx.Response:
    return httpx.post(f"{server.url}/api/events/idm-2022-1/registrations", json={**ATTENDEE, **overrides})


def demo_links(server: ServerProcess) -> dict[str, str]:
    text = server.log.read_text()
    return dict(re.findall(r"^(organiser|moderator) \S+: sign in once at \S+/signin/(\S+)$", text, re.M))


def test_registration_returns_a_join_link_that_a_get_does_not_use_up(server: ServerProcess) -> None:
    response = register(server)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "amina.diallo@example.org"
    token = body["join_url"].rsplit("/join/", 1)[1]
    for _ in range(3):  # a mail scanner opening the link
        page = httpx.get(f"{server.url}/join/{token}")
        assert page.status_code == 200 and "<form" in page.text
    peek = httpx.post(f"{server.url}/api/join/peek", json={"token": token})
    assert peek.json()["name"] == "Amina Diallo"
    with httpx.Client(base_url=server.url, headers={"Origin": server.url}) as browser:
        joined = browser.post("/api/join", json={"token": token})
        assert joined.status_code == 200
        assert "parley_session" in joined.cookies
        me = browser.get("/api/me").json()
        assert me["kind"] == "attendee" and me["name"] == "Amina Diallo" and me["language"] == "fr"
        assert browser.post("/api/auth/logout").status_code == 204
        assert browser.get("/api/me").status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"category": "spy"}, "category"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"language": "de"}, "language"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
)
def test_bad_registrations_are_422_problems_naming_the_field(server: ServerProcess, change: dict, field: str) -> None:
    response = register(server, **change)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]


def test_registration_errors_that_are_not_fields(server: ServerProcess) -> None:
    assert register(server).status_code == 201
    dup = register(server, email="AMINA.DIALLO@example.org")
    assert dup.status_code == 409 and dup.json()["code"] == "already_registered"
    unknown = httpx.post(f"{server.url}/api/events/nope/registrations", json=ATTENDEE)
    assert unknown.status_code == 404
    not_json = httpx.post(
        f"{server.url}/api/events/idm-2022-1/registrations", content="name=x", headers={"content-type": "text/plain"}
    )
    assert not_json.status_code == 415
    broken = httpx.post(
        f"{server.url}/api/events/idm-2022-1/registrations",
        content="{broken",
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 400 and broken.json()["code"] == "bad_json"


def test_forged_and_revoked_links_are_refused(server: ServerProcess) -> None:
    token = register(server).json()["join_url"].rsplit("/", 1)[1]
    forged = httpx.post(f"{server.url}/api/join", json={"token": token[:-2] + "xx"})
    assert forged.status_code == 401 and forged.json()["code"] == "invalid_link"

    organiser = httpx.Client(base_url=server.url, headers={"Origin": server.url})
    assert organiser.post("/api/auth/link", json={"token": demo_links(server)["organiser"]}).status_code == 200
    regs = organiser.get("/api/events/idm-2022-1/registrations", params={"q": "diallo"}).json()["registrations"]
    assert [r["name"] for r in regs] == ["Amina Diallo"]
    attendee = httpx.Client(base_url=server.url, headers={"Origin": server.url})
    assert attendee.post("/api/join", json={"token": token}).status_code == 200
    assert organiser.post(f"/api/events/idm-2022-1/registrations/{regs[0]['id']}/revoke").status_code == 204
    assert attendee.get("/api/me").status_code == 401, "revoking ends the sessions the link opened"
    revoked = httpx.post(f"{server.url}/api/join", json={"token": token})
    assert revoked.status_code == 401 and revoked.json()["code"] == "revoked_link"
    fresh = organiser.post(f"/api/events/idm-2022-1/registrations/{regs[0]['id']}/link").json()["join_url"]
    assert httpx.post(f"{server.url}/api/join", json={"token": fresh.rsplit("/", 1)[1]}).status_code == 200


def test_staff_sign_in_links_are_one_time_and_roles_are_per_event(server: ServerProcess) -> None:
    links = demo_links(server)
    assert set(links) == {"organiser", "moderator"}
    moderator = httpx.Client(base_url=server.url, headers={"Origin": server.url})
    assert moderator.post("/api/auth/link", json={"token": links["moderator"]}).status_code == 200
    assert httpx.post(f"{server.url}/api/auth/link", json={"token": links["moderator"]}).status_code == 401
    me = moderator.get("/api/me").json()
    assert me["kind"] == "staff" and [r["role"] for r in me["roles"]] == ["moderator"]
    assert moderator.get("/api/events/idm-2022-1/registrations").status_code == 403
    assert httpx.get(f"{server.url}/api/events/idm-2022-1/registrations").status_code == 401


def test_password_sign_in(server: ServerProcess, parley) -> None:  # type: ignore[no-untyped-def]
    added = parley.cli(
        "users",
        "add",
        "--role",
        "moderator",
        "--event",
        "idm-2022-1",
        "--email",
        "chair@example.org",
        "--password-stdin",
        input="a long enough password\n",
    )
    assert added.returncode == 0, added.stderr
    wrong = httpx.post(f"{server.url}/api/auth/login", json={"email": "chair@example.org", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "bad_credentials"
    ok = httpx.post(
        f"{server.url}/api/auth/login", json={"email": "Chair@example.org", "password": "a long enough password"}
    )
    assert ok.status_code == 200
    me = httpx.get(f"{server.url}/api/me", headers={"authorization": f"Bearer {ok.json()['session_token']}"})
    assert me.json()["email"] == "chair@example.org"


def test_registrations_export_as_csv_with_formulas_neutralised(server: ServerProcess) -> None:
    import csv
    import io

    assert register(server).status_code == 201
    assert (
        register(server, name='=HYPERLINK("http://evil")', email="x@example.org", organisation="+33").status_code == 201
    )
    organiser = httpx.Client(base_url=server.url, headers={"Origin": server.url})
    assert organiser.post("/api/auth/link", json={"token": demo_links(server)["organiser"]}).status_code == 200
    response = organiser.get("/api/events/idm-2022-1/registrations.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [r["email"] for r in rows] == ["amina.diallo@example.org", "x@example.org"]
    assert rows[1]["name"] == '\'=HYPERLINK("http://evil")' and rows[1]["organisation"] == "'+33"
    filtered = organiser.get("/api/events/idm-2022-1/registrations.csv", params={"q": "diallo"}).text
    assert "amina.diallo@example.org" in filtered and "x@example.org" not in filtered
    assert httpx.get(f"{server.url}/api/events/idm-2022-1/registrations.csv").status_code == 401
