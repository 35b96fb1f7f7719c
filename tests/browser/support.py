"""Helpers of the browser tests: people joining, pages checked with axe-core, screenshots."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

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


def wait_live(page: Any, timeout: float = 15000) -> None:
    page.wait_for_function("document.querySelector('#conn')?.dataset.state === 'live'", timeout=timeout)


def set_language(page: Any, code: str) -> None:
    page.select_option("#lang", code)
    page.wait_for_function(f"document.documentElement.lang === {json.dumps(code)}")


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
