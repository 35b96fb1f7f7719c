"""The mail features in the browser: "I lost my link" on the event page (the same answer for a known
and an unknown address, in fr, en and es), and an organiser composing a message in the event's three
languages, counting its audience, sending it and seeing its counts.

The embedded worker is off in these tests: what is checked is what the page sends and shows, and the
delivery rows the server queued (the sending itself: tests/test_mail.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.support import SLUG, Audit, set_language, wait_js

MAIL_SLUG = "idm-mail"
PASSWORD = "a long enough password"
CATALOGUES = Path(__file__).resolve().parents[2] / "frontend" / "i18n"


def catalogue(code: str) -> dict[str, str]:
    return dict(json.loads((CATALOGUES / f"{code}.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def mail_event(site: Any) -> str:
    first_day = (datetime.now(UTC) + timedelta(days=21)).date().isoformat()
    copied = site.parley.cli("event", "copy", SLUG, "--new-slug", MAIL_SLUG, "--first-day", first_day)
    assert copied.returncode == 0, copied.stderr
    for name, category in (("Maya Member", "member_state"), ("Nils Member", "member_state"), ("Pia Press", "media")):
        body = {"name": name, "email": name.lower().replace(" ", ".") + "@example.org", "category": category}
        assert httpx.post(f"{site.url}/api/events/{MAIL_SLUG}/registrations", json=body).status_code == 201
    return MAIL_SLUG


def test_the_lost_link_form_answers_alike_in_each_language(
    site: Any, browser: Any, screenshots: Any, page_errors: Any, mail_event: str
) -> None:
    audit = Audit(screenshots)
    ctx = browser.new_context(locale="fr-FR", viewport={"width": 1100, "height": 900})
    ctx.set_default_timeout(15000)
    page = page_errors.watch(ctx.new_page(), "lost-link")
    page.goto(f"{site.url}/events/{mail_event}")
    page.wait_for_selector("#lost-form")
    answers = []
    for code, address in (
        ("fr", "maya.member@example.org"),
        ("en", "nobody@example.org"),
        ("es", "pia.press@example.org"),
    ):
        set_language(page, code)
        words = catalogue(code)
        assert page.locator("#lost-h").inner_text() == words["lost.heading"]
        page.fill("#lost-email", address)
        page.focus("#lost-email")
        with page.expect_response(f"**/api/events/{mail_event}/lost-link") as answer:
            page.keyboard.press("Enter")  # the form works from the keyboard
        assert answer.value.status == 202
        answers.append(answer.value.text())
        expected = words["lost.sent"].replace("{email}", address)
        wait_js(page, f"document.querySelector('#lost-result').textContent === {json.dumps(expected)}")
        assert page.locator("#lost-result [role=status]").count() == 1  # said to screen readers
        if code == "fr":
            audit.axe(page, "event-lost-link")
    assert len(set(answers)) == 1, "a known and an unknown address get the same answer"

    # a malformed address is caught on the page, with the field marked
    page.fill("#lost-email", "not an address")
    page.click("#lost-form button[type=submit]")
    wait_js(page, "document.querySelector('#lost-email').getAttribute('aria-invalid') === 'true'")
    assert page.locator("#lost-result [role=alert]").inner_text() == catalogue("es")["register.need_email"]
    audit.shot(page, "event-lost-link.es")
    assert not audit.violations, audit.violations
    assert not page_errors.errors, page_errors.errors
    ctx.close()


def test_an_organiser_composes_a_message_in_three_languages_and_sees_its_counts(
    site: Any, browser: Any, screenshots: Any, page_errors: Any, mail_event: str
) -> None:
    audit = Audit(screenshots)
    added = site.parley.cli(
        "users", "add", "--role", "organiser", "--event", mail_event, "--email", "mona@example.org",
        "--password-stdin", input=PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    ctx = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15000)
    page = page_errors.watch(ctx.new_page(), "messages")
    page.goto(site.url + "/login")
    page.fill("#login-email", "mona@example.org")
    page.fill("#login-password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/organise/{mail_event}")
    page.wait_for_selector("#msg-set-es")
    # one subject and one text per language of the event, each field in its language
    assert page.evaluate("[...document.querySelectorAll('#msg-texts input')].map((i) => i.lang)") == ["fr", "en", "es"]
    for code in ("fr", "es", "en"):
        set_language(page, code)
        words = catalogue(code)
        assert page.locator("#msg-h").inner_text() == words["msg.heading"]
        legends = page.evaluate("[...document.querySelectorAll('#msg-texts legend')].map((l) => l.textContent)")
        assert legends == [words["lang.fr"], words["lang.en"], words["lang.es"]]

    # one category: the field appears, the count is the server's
    page.select_option("#msg-audience", "category")
    assert page.locator("#msg-category-field").is_visible() and not page.locator("#msg-day-field").is_visible()
    page.select_option("#msg-category", "member_state")
    page.click("#msg-preview")
    wait_js(page, "document.querySelector('#msg-count').textContent === '2 recipient(s)'")

    # a language left empty is named on its field, and nothing is sent
    page.click("#msg-send")
    wait_js(page, "document.querySelectorAll('#msg-form [aria-invalid=true]').length === 6")
    assert page.evaluate("document.activeElement.id") == "msg-subject-fr"
    for code, subject in (("fr", "Changement d'horaire"), ("en", "Change of times"), ("es", "Cambio de horario")):
        page.fill(f"#msg-subject-{code}", subject)
        page.fill(f"#msg-text-{code}", f"{subject}: 9:30.\n\n– Parley")
    with page.expect_response(f"**/api/events/{mail_event}/messages") as answer:
        page.click("#msg-send")
    assert answer.value.status == 202 and answer.value.json()["recipients"] == 2
    wait_js(page, "document.querySelector('#msg-result').textContent.includes('2 recipient(s)')")
    row = page.locator("#msg-table tbody tr").first
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "Change of times" and cells[2] == "One category: Member State" and cells[3] == "2"
    assert cells[6] == "2", "pending: no worker runs in these tests"
    audit.page(page, "organise-messages", languages=("en", "fr", "es"))
    set_language(page, "es")
    assert row.locator("td").nth(1).inner_text() == "Cambio de horario"
    assert page.locator("#msg-result").inner_text() == catalogue("es")["msg.queued"].replace("{count}", "2")
    assert not audit.violations, audit.violations
    assert not page_errors.errors, page_errors.errors
    ctx.close()
