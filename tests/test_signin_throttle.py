"""Staff sign-in throttling and its audit, against a real server on SQLite and on PostgreSQL.

Limits are small here (3 failures per account, 8 per address, a 10-second window) so that the window
can be waited out; the defaults are in docs/security.md.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from server.adapters.db.models import SignInAttempt
from tests.fixtures.live import demo_sign_in_links
from tests.fixtures.parley import Parley, ServerProcess, migrated_sqlite
from tests.fixtures.services import PostgresDatabases, pg_url

WINDOW_S = 10
LIMITS = {
    "PARLEY_SIGN_IN_WINDOW_S": str(WINDOW_S),
    "PARLEY_SIGN_IN_MAX_FAILURES_PER_ACCOUNT": "3",
    "PARLEY_SIGN_IN_MAX_FAILURES_PER_ADDRESS": "8",
}
PASSWORD = "a long enough password"
ACCOUNTS = ("chair@example.org", "rapporteur@example.org", "clerk@example.org")


@dataclass
class Site:
    parley: Parley
    server: ServerProcess

    def login(self, email: str, password: str) -> httpx.Response:
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            return client.post("/api/auth/login", json={"email": email, "password": password})

    def unlock(self, *args: str) -> None:
        done = self.parley.cli("users", "unlock", *args)
        assert done.returncode == 0, done.stderr

    def attempts(self, email: str) -> list[SignInAttempt]:
        engine = create_engine(self.parley.settings().sync_database_url)
        try:
            with engine.connect() as conn:
                query = select(SignInAttempt).where(SignInAttempt.email == email).order_by(SignInAttempt.id)
                return list(conn.execute(query))  # type: ignore[arg-type]
        finally:
            engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir: Path = tmp_path_factory.mktemp(f"throttle-{request.param}") / "data"
    if request.param == "sqlite":
        parley = Parley("sqlite", data_dir, migrated_sqlite(data_dir), extra_env=dict(LIMITS))
    else:
        dbs: PostgresDatabases = request.getfixturevalue("postgres_databases")
        data_dir.mkdir(parents=True)
        parley = Parley("postgres", data_dir, pg_url(dbs.new(), "postgresql+asyncpg"), extra_env=dict(LIMITS))
    server = ServerProcess(parley)
    for email in ACCOUNTS:
        added = parley.cli(
            "users", "add", "--role", "moderator", "--event", "idm-2022-1", "--email", email, "--password-stdin",
            input=PASSWORD + "\n",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    try:
        yield Site(parley, server)
    finally:
        server.stop()


def throttled(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "too_many_attempts"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW_S
    return retry_after


def test_a_password_guesser_is_stopped_after_the_accounts_limit(site: Site) -> None:
    started = time.monotonic()
    with httpx.Client(base_url=site.server.url, timeout=30) as guesser:
        body = {"email": "chair@example.org"}
        codes = [
            guesser.post("/api/auth/login", json={**body, "password": f"guess {n}"}).status_code for n in range(20)
        ]
    assert time.monotonic() - started < WINDOW_S, "the test needs the 20 guesses inside one window"
    assert codes == [401] * 3 + [429] * 17
    wait = throttled(site.login("chair@example.org", PASSWORD))  # the right password waits too
    assert site.login("rapporteur@example.org", PASSWORD).status_code == 200, "other accounts are not locked out"
    time.sleep(wait + 0.2)
    assert site.login("chair@example.org", PASSWORD).status_code == 200, "the window slid past the failures"


def test_every_staff_sign_in_is_audited(site: Site) -> None:
    assert site.login("clerk@example.org", "wrong").status_code == 401
    assert site.login("Clerk@Example.org", PASSWORD).status_code == 200
    token = demo_sign_in_links(site.server)["organiser"]
    assert httpx.post(f"{site.server.url}/api/auth/link", json={"token": token}).status_code == 200
    clerk = site.attempts("clerk@example.org")
    assert [(a.method, a.outcome, a.address) for a in clerk] == [
        ("password", "failure", "127.0.0.1"),
        ("password", "success", "127.0.0.1"),
    ]
    assert clerk[0].user_id == clerk[1].user_id is not None and clerk[0].at <= clerk[1].at
    (organiser,) = site.attempts("organiser@parley.localhost")
    assert (organiser.method, organiser.outcome, organiser.address) == ("link", "success", "127.0.0.1")
    assert organiser.user_id is not None
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.org"
    assert site.login(unknown, "x").status_code == 401
    assert [(a.outcome, a.user_id) for a in site.attempts(unknown)] == [("failure", None)]


def test_one_address_trying_many_accounts_is_stopped_and_can_be_unlocked(site: Site) -> None:
    site.unlock("--address", "127.0.0.1")  # earlier tests' failures are not this test's
    for n in range(8):  # one failure each: no account reaches its own limit
        assert site.login(f"spray-{n}-{uuid.uuid4().hex[:6]}@example.org", "x").status_code == 401
    throttled(site.login("rapporteur@example.org", PASSWORD))
    site.unlock("--address", "127.0.0.1")
    assert site.login("rapporteur@example.org", PASSWORD).status_code == 200


def test_a_locked_account_can_be_unlocked_at_once(site: Site) -> None:
    site.unlock("--address", "127.0.0.1")
    for _ in range(3):
        assert site.login("clerk@example.org", "wrong").status_code == 401
    throttled(site.login("clerk@example.org", PASSWORD))
    site.unlock("--email", "Clerk@example.org")
    assert site.login("clerk@example.org", PASSWORD).status_code == 200
    outcomes = [a.outcome for a in site.attempts("clerk@example.org")]
    assert outcomes[-3:] == ["throttled", "reset", "success"], "the audit keeps what happened"
