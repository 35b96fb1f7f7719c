"""Helpers of the browser tests: people joining, pages checked with axe-core, screenshots."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

SLUG = "idm-2022-1"
BAD_IMPACTS = {"serious", "critical"}


def demo_link(server: Any, role: str) -> str:
    """The one-time sign-in path the server printed at first start for the demo ``role``."""
    text = server.log.read_text()
    links = dict(re.findall(r"^(organiser|moderator) \S+: sign in once at \S+(/signin/\S+)$", text, re.M))
    return links[role]


def register(server: Any, name: str, **extra: Any) -> str:
    """Register through the API; returns the path of the personal join link."""
    body = {
        "name": name,
        "email": name.lower().replace(" ", ".") + "@example.org",
        "category": extra.pop("category", "member_state"),
        "organisation": extra.pop("organisation", ""),
        **extra,
    }
    response = httpx.post(f"{server.url}/api/events/{SLUG}/registrations", json=body)
    assert response.status_code == 201, response.text
    return "/join/" + response.json()["join_url"].rsplit("/", 1)[1]


def wait_js(page: Any, expression: str, timeout: float = 15000) -> Any:
    """Wait until a JavaScript expression is truthy in ``page``; its value.

    Playwright's ``wait_for_function`` evaluates its predicate with ``eval`` inside the page, which
    the pages' Content-Security-Policy (``script-src 'self'``, no ``'unsafe-eval'``) refuses. Each
    ``page.evaluate`` here goes through the DevTools protocol instead, which the policy does not
    govern, so the pages are tested under the very policy they are served with.
    """
    deadline = time.monotonic() + timeout / 1000
    last: Exception | None = None
    while True:
        try:
            value = page.evaluate(expression)
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - a navigation in between, an element not there yet
            if page.is_closed():
                raise
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout:.0f} ms: {expression}" + (f" ({last})" if last else ""))
        page.wait_for_timeout(50)


def wait_live(page: Any, timeout: float = 15000) -> None:
    wait_js(page, "document.querySelector('#conn')?.dataset.state === 'live'", timeout=timeout)


def set_language(page: Any, code: str) -> None:
    page.select_option("#lang", code)
    wait_js(page, f"document.documentElement.lang === {json.dumps(code)}")


@dataclass
class Audit:
    """axe-core on each page state that matters, and a screenshot of it, in each language asked."""

    folder: Path
    violations: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)

    def axe(self, page: Any, name: str) -> None:
        from axe_playwright_python.sync_playwright import Axe

        result = Axe().run(page)
        self.checked.append(name)
        for violation in result.response["violations"]:
            if violation.get("impact") in BAD_IMPACTS:
                targets = [node.get("target") for node in violation.get("nodes", [])][:3]
                what = f"{violation['id']} ({violation['impact']}) {violation['help']}"
                self.violations.append(f"{name}: {what} {targets}")

    def shot(self, page: Any, name: str) -> None:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)

    def page(self, page: Any, name: str, languages: tuple[str, ...] = ("en", "fr"), axe: bool = True) -> None:
        """Screenshot ``page`` in each language (switching with the page's own picker), axe once."""
        start = page.evaluate("document.documentElement.lang")
        order = sorted(languages, key=lambda code: code != start)  # the current language first
        for code in order:
            if code != page.evaluate("document.documentElement.lang"):
                set_language(page, code)
                page.wait_for_timeout(150)
            self.shot(page, f"{name}.{code}")
        if axe:
            self.axe(page, name)
        if page.evaluate("document.documentElement.lang") != start:
            set_language(page, start)


@contextlib.contextmanager
def socket_of(site: Any, token: str) -> Iterator[Callable[..., dict[str, Any] | None]]:
    """A person on a plain websocket (the browser under test is someone else's): yields ``ok``,
    which sends a command and returns its result's data."""
    url = site.url.replace("http://", "ws://") + f"/ws/events/{SLUG}"
    cids = itertools.count(1)
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, origin=site.url) as ws:

        def ok(kind: str, **fields: Any) -> dict[str, Any] | None:
            cid = f"t{next(cids)}"
            ws.send(json.dumps({"type": kind, "cid": cid, **fields}))
            while True:
                frame = json.loads(ws.recv(timeout=10))
                if frame.get("cid") == cid:
                    assert frame["type"] == "result", frame
                    return frame.get("data")

        yield ok


def staff_token(site: Any, email: str) -> str:
    """A moderator added with ``parley users add``, signed in with the password."""
    added = site.parley.cli(
        "users", "add", "--role", "moderator", "--event", SLUG, "--email", email, "--password-stdin",
        input="a long enough password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    login = httpx.post(f"{site.url}/api/auth/login", json={"email": email, "password": "a long enough password"})
    return str(login.json()["session_token"])


def attendee_token(site: Any, name: str) -> str:
    joined = httpx.post(f"{site.url}/api/join", json={"token": register(site, name).rsplit("/", 1)[1]})
    return str(joined.json()["session_token"])
