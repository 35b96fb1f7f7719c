"""Cross-site requests against a real server: a page of another site cannot make a signed-in browser
change anything, while the site's own pages (and scripts with a bearer token) still can."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.live import demo_sign_in_links
from tests.fixtures.parley import Parley, ServerProcess, migrated_sqlite

EVENT = "/api/events/idm-2022-1"
EVIL = "https://evil.example"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("csrf") / "data"
    server = ServerProcess(Parley("sqlite", data_dir, migrated_sqlite(data_dir)))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def organiser(site: ServerProcess) -> Iterator[httpx.Client]:
    """A browser signed in as the organiser: the session is only in its cookie jar."""
    with httpx.Client(base_url=site.url, timeout=30) as browser:
        token = demo_sign_in_links(site)["organiser"]
        signed_in = browser.post("/api/auth/link", json={"token": token}, headers={"Origin": site.url})
        assert signed_in.status_code == 200 and "parley_session" in browser.cookies
        yield browser


def registration(site: ServerProcess, email: str) -> int:
    response = httpx.post(
        f"{site.url}{EVENT}/registrations", json={"name": "Target", "email": email, "category": "media"}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def revoked(organiser: httpx.Client, reg_id: int) -> bool:
    rows = organiser.get(f"{EVENT}/registrations").json()["registrations"]
    return bool(next(r for r in rows if r["id"] == reg_id)["revoked"])


def refused(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "cross_site_request"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1.evil.example"},
        {"Referer": f"{EVIL}/innocent-page"},
        {},  # a cookie and neither header: refused, browsers always send one of them
    ],
    ids=["foreign-origin", "null-origin", "lookalike-origin", "foreign-referer", "no-origin-no-referer"],
)
def test_a_cross_site_post_with_the_organisers_cookie_is_refused(
    site: ServerProcess, organiser: httpx.Client, headers: dict[str, str]
) -> None:
    reg_id = registration(site, f"target-{uuid.uuid4().hex[:12]}@example.org")
    refused(organiser.post(f"{EVENT}/registrations/{reg_id}/revoke", headers=headers))
    assert not revoked(organiser, reg_id), "nothing happened"
    refused(organiser.put(f"{EVENT}/reminders/schedule", json={"attendees": [], "speakers": []}, headers=headers))
    refused(organiser.post("/api/auth/logout", headers=headers))
    assert organiser.get("/api/me").status_code == 200, "still signed in"


def test_a_same_origin_post_with_the_cookie_works(site: ServerProcess, organiser: httpx.Client) -> None:
    reg_id = registration(site, "same-origin@example.org")
    assert organiser.post(f"{EVENT}/registrations/{reg_id}/revoke", headers={"Origin": site.url}).status_code == 204
    assert revoked(organiser, reg_id)
    other = registration(site, "same-origin-referer@example.org")
    by_referer = organiser.post(f"{EVENT}/registrations/{other}/revoke", headers={"Referer": f"{site.url}/organiser"})
    assert by_referer.status_code == 204 and revoked(organiser, other)


def test_requests_no_other_site_can_make_are_not_in_the_way(site: ServerProcess) -> None:
    # no cookie: registering (a public form) and signing in from scripts and the CLI
    reg_id = registration(site, "script@example.org")
    token = demo_sign_in_links(site)["moderator"]
    signed_in = httpx.post(f"{site.url}/api/auth/link", json={"token": token})
    assert signed_in.status_code == 200
    bearer = {"Authorization": f"Bearer {signed_in.json()['session_token']}"}
    # a bearer token is never sent by a browser on another site's behalf
    assert httpx.post(f"{site.url}/api/auth/logout", headers=bearer).status_code == 204
    # reading is never refused, whatever the origin
    assert httpx.get(f"{site.url}{EVENT}", headers={"Origin": EVIL}).status_code == 200
    assert reg_id > 0


def test_sign_in_from_another_site_is_refused(site: ServerProcess) -> None:
    """Login CSRF: another site cannot sign a visitor's browser in to an account of its choosing."""
    token = demo_sign_in_links(site)["organiser"]
    refused(httpx.post(f"{site.url}/api/auth/link", json={"token": token}, headers={"Origin": EVIL}))
    refused(
        httpx.post(f"{site.url}/api/auth/login", json={"email": "a@b.org", "password": "x"}, headers={"Origin": EVIL})
    )
