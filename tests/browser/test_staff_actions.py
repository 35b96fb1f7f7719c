"""The staff pages' smaller actions, one browser each: the speaker's time paused and resumed, a
notice cleared and a queue entry removed on the console; on the dashboard a link revoked, a new
one issued and one person's reminder resent; and the pages turning away, before any socket
opens, someone without a role in the event.

A rehearsal copy of the event, on dates to come, gives the reminders a morning not yet over (the
embedded worker is off in tests: the resend is checked by the API's answer and the message shown).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.browser.support import (
    SLUG,
    Audit,
    attendee_token,
    demo_link,
    register,
    set_language,
    socket_of,
    wait_js,
    wait_live,
)

REHEARSAL = "idm-rehearsal"
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def rehearsal(site: Any) -> str:
    first_day = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    copied = site.parley.cli("event", "copy", SLUG, "--new-slug", REHEARSAL, "--first-day", first_day)
    assert copied.returncode == 0, copied.stderr
    return REHEARSAL


def add_staff(site: Any, role: str, slug: str, email: str) -> None:
    added = site.parley.cli(
        "users", "add", "--role", role, "--event", slug, "--email", email, "--password-stdin", input=PASSWORD + "\n"
    )
    assert added.returncode == 0, added.stderr


def sign_in(page: Any, site: Any, email: str) -> None:
    """The password form at /login, no ``next``: the page goes where the staff member belongs."""
    page.goto(site.url + "/login")
    page.fill("#login-email", email)
    page.fill("#login-password", PASSWORD)
    page.keyboard.press("Enter")


def watch_sockets(page: Any) -> list[str]:
    opened: list[str] = []
    page.on("websocket", lambda ws: opened.append(ws.url))
    return opened


def focus_ring(page: Any) -> str:
    return str(page.evaluate("getComputedStyle(document.activeElement).outlineStyle"))


def test_the_console_pauses_a_speech_clears_a_notice_and_removes_an_entry(
    site: Any, browser: Any, screenshots: Any, page_errors: Any
) -> None:
    audit = Audit(screenshots)
    ctx = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15000)
    page = page_errors.watch(ctx.new_page(), "moderator")
    page.goto(site.url + demo_link(site, "moderator"))
    page.click("#signin-button")
    page.wait_for_url(f"**/moderate/{SLUG}")
    wait_live(page)
    page.locator("#segment-list [data-fkey=open]").first.click()
    page.wait_for_selector("#live-segment .status-live")

    with (
        socket_of(site, attendee_token(site, "Quinn First")) as first,
        socket_of(site, attendee_token(site, "Remy Second")) as second,
    ):
        first("floor.request", topic="Funding")
        second("floor.request", topic="Logistics")
        wait_js(page, "document.querySelectorAll('#queue-list li.entry').length === 2")

        # removing an entry, by keyboard: focus its Remove button, Enter
        remove = page.locator("#queue-list li.entry:has-text('Remy Second') [data-fkey=remove]")
        assert remove.get_attribute("aria-label") == "Remove Remy Second from the list"
        remove.focus()
        page.keyboard.press("Enter")
        wait_js(page, "document.querySelectorAll('#queue-list li.entry').length === 1")
        assert "Remy Second" not in page.locator("#queue-list").inner_text()
        assert page.evaluate("window.__parley.store.public.queue.waiting.map((e) => e.name)") == ["Quinn First"]

        # the floor to Quinn; the speaker's time paused, then running again
        page.click("#queue-list li.entry:has-text('Quinn First') [data-fkey=grant]")
        page.wait_for_selector("#speech-actions [data-fkey=spause]")
        assert "Quinn First" in page.locator("#speaker .speaker-name").inner_text()
        page.click("#speech-actions [data-fkey=spause]")
        page.wait_for_selector("#speech-actions [data-fkey=sresume]")
        wait_js(page, "document.querySelector('#announcer').textContent.includes('time is paused')")
        assert page.evaluate("window.__parley.store.public.stage.speech.paused_at") is not None
        assert "Paused" in page.locator("#speaker .timer-text").inner_text()
        frozen = page.locator("#timer-elapsed").inner_text()
        page.wait_for_timeout(1200)
        assert page.locator("#timer-elapsed").inner_text() == frozen, "a paused timer does not run"
        audit.page(page, "moderate-speech-paused")
        resume = page.locator("#speech-actions [data-fkey=sresume]")
        resume.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("#speech-actions [data-fkey=spause]")
        wait_js(page, "window.__parley.store.public.stage.speech.paused_at === null")
        wait_js(page, "document.querySelector('#announcer').textContent.includes('runs again')")
        assert page.evaluate("document.activeElement.dataset.fkey") == "spause", "focus stays on the toggle"

        # a notice posted, then cleared
        page.fill("#notice-text", "Coffee in the lobby")
        page.click("#notice-form button[type=submit]")
        wait_js(page, "document.querySelector('#notice-current').textContent.includes('Coffee in the lobby')")
        assert page.locator("#notice-clear").is_enabled()
        page.click("#notice-clear")
        wait_js(page, "document.querySelector('#notice-current').textContent === ''")
        assert page.evaluate("window.__parley.store.public.stage.notice") is None
        assert page.locator("#notice-clear").is_disabled()

    page.click("#speech-end")
    page.wait_for_selector("#speech-actions [data-fkey=spause]", state="detached")
    page.click("#segment-end")
    page.wait_for_selector("#live-segment:has-text('Nothing is live')")
    assert not page_errors.errors, page_errors.errors
    assert not audit.violations, "\n".join(audit.violations)


def test_the_dashboard_revokes_a_link_issues_a_new_one_and_resends_a_reminder(
    site: Any, browser: Any, screenshots: Any, page_errors: Any, rehearsal: str
) -> None:
    audit = Audit(screenshots)
    add_staff(site, "organiser", rehearsal, "olga@example.org")
    signed_up = httpx.post(
        f"{site.url}/api/events/{rehearsal}/registrations",
        json={"name": "Rita Reminder", "email": "rita@example.org", "category": "academia", "organisation": "UNIGE"},
    )
    assert signed_up.status_code == 201, signed_up.text
    old_token = signed_up.json()["join_url"].rsplit("/", 1)[1]

    ctx = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15000)
    page = page_errors.watch(ctx.new_page(), "organiser")
    sign_in(page, site, "olga@example.org")
    page.wait_for_url(f"**/organise/{rehearsal}")  # an organiser of one event lands on its dashboard
    wait_live(page)
    row = page.locator("#reg-table tbody tr:has-text('Rita Reminder')")
    row.wait_for()
    page.wait_for_selector("#resend-form:not([hidden])")
    rita = row.get_attribute("data-id")
    assert page.locator(f"#resend-person option[value='{rita}']").inner_text() == "Rita Reminder <rita@example.org>"
    first_morning = page.evaluate("document.querySelector('#resend-day').value")
    assert first_morning == (datetime.now(UTC) + timedelta(days=14)).date().isoformat(), "the next morning is chosen"
    kinds = page.evaluate("[...document.querySelectorAll('#resend-kind option')].map((o) => o.value)")
    assert kinds and all(kind.startswith("attendees-") for kind in kinds), kinds

    def resend() -> Any:
        """Choose Rita, the first morning and the first kind; submit with the keyboard."""
        page.select_option("#resend-person", rita)
        page.select_option("#resend-kind", kinds[0])
        page.focus("#resend-kind")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "resend-submit"
        assert focus_ring(page) == "solid", "a visible focus ring"
        with page.expect_response(f"**/api/events/{rehearsal}/reminders/resend") as answer:
            page.keyboard.press("Enter")
        return answer.value

    # a resend: the API takes it (202) and the page says when it goes out
    answered = resend()
    assert answered.status == 202, answered.text()
    body = answered.json()
    assert isinstance(body["delivery_id"], int)
    said = "within seconds" if body["queued"] else "within a minute"
    message = page.locator("#resend-message")
    wait_js(page, f"document.querySelector('#resend-message').textContent.includes({json.dumps(said)})")
    assert "Rita Reminder" in message.inner_text() and "Attendees" in message.inner_text()
    wait_js(page, f"document.querySelector('#announcer').textContent.includes({json.dumps(said)})")
    wait_js(
        page, "[...document.querySelectorAll('#reminders-body tbody tr')].some((r) => r.cells[6].textContent !== '0')"
    )
    audit.page(page, "organise-resent", languages=("en", "es"))

    # revoking Rita's link from her row
    row.locator("button", has_text="Revoke").click()
    wait_js(page, "document.querySelector('#reg-message').textContent.includes('The link of Rita Reminder is revoked')")
    row.locator(".tag.warn", has_text="Revoked").wait_for()
    assert httpx.post(f"{site.url}/api/join/peek", json={"token": old_token}).status_code == 401

    # a resend now is refused (409): the server's reason is shown and announced
    refused = resend()
    assert refused.status == 409
    detail = refused.json()["detail"]
    assert "revoked" in detail
    wait_js(page, f"document.querySelector('#resend-message').textContent.includes({json.dumps(detail)})")
    assert page.locator("#resend-message").get_attribute("class") == "error"
    assert "was not resent to Rita Reminder" in message.inner_text()
    wait_js(page, f"document.querySelector('#alerts').textContent.includes({json.dumps(detail)})")
    audit.axe(page, "organise-resend-refused")

    # a new link: shown on the page, the row active again, the link works; the resend goes through
    row.locator("button", has_text="New link").click()
    page.wait_for_selector("#reg-message code.link")
    new_url = page.locator("#reg-message code.link").inner_text()
    new_token = new_url.rsplit("/", 1)[1]
    assert new_token != old_token
    wait_js(page, "!document.querySelector('#reg-table tbody tr[data-id] .tag.warn')")
    assert "Active" in row.inner_text()
    assert httpx.post(f"{site.url}/api/join/peek", json={"token": new_token}).status_code == 200
    assert resend().status == 202
    wait_js(page, "document.querySelector('#resend-message').className === 'success'")

    # in French, the last result is said again in French
    set_language(page, "fr")
    assert "Renvoyer un rappel" in page.locator("#resend-h").inner_text()
    assert "Rita Reminder" in message.inner_text() and "Participants" in message.inner_text()
    assert not page_errors.errors, page_errors.errors
    assert not audit.violations, "\n".join(audit.violations)


def test_no_role_in_the_event_is_a_clear_message_and_no_socket(
    site: Any, browser: Any, screenshots: Any, page_errors: Any, rehearsal: str
) -> None:
    audit = Audit(screenshots)
    add_staff(site, "moderator", rehearsal, "mona@example.org")
    ctx = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15000)
    page = page_errors.watch(ctx.new_page(), "moderator-elsewhere")
    sign_in(page, site, "mona@example.org")
    page.wait_for_url(f"**/moderate/{rehearsal}")  # a moderator of one event lands on its console
    wait_live(page)

    # the event Mona has no role in: the message, links to where she belongs, and no socket at all
    gated = page_errors.watch(ctx.new_page(), "moderator-gated")
    opened = watch_sockets(gated)
    gated.goto(site.url + f"/moderate/{SLUG}")
    gated.wait_for_selector("#gate:not([hidden])")
    assert gated.locator("#gate").inner_text().startswith("You are not a moderator of this event.")
    assert gated.locator("#console").is_hidden()
    assert gated.locator(f"#gate a[href='/moderate/{rehearsal}']").count() == 1
    gated.wait_for_timeout(600)
    assert opened == [], "no socket is opened without a role"
    assert gated.evaluate("document.querySelector('#conn').dataset.state") == "idle"
    audit.page(gated, "moderate-no-role", languages=("en", "fr", "es"))
    set_language(gated, "fr")
    assert gated.locator("#gate").inner_text().startswith("Vous ne modérez pas cet événement.")
    set_language(gated, "es")
    assert gated.locator("#gate").inner_text().startswith("Usted no modera este evento.")
    set_language(gated, "en")

    # a moderator of the rehearsal is not its organiser: the dashboard says so, and links the console
    gated.goto(site.url + f"/organise/{rehearsal}")
    gated.wait_for_selector("#gate:not([hidden])")
    assert gated.locator("#gate").inner_text().startswith("You are not an organiser of this event.")
    assert gated.locator(f"#gate a[href='/moderate/{rehearsal}']").count() == 1
    assert gated.locator("#dashboard").is_hidden()
    gated.wait_for_timeout(300)
    assert opened == []

    # Mona's role in the rehearsal removed while her console is open: it says so, and stops
    removed = site.parley.cli(
        "users", "remove", "--role", "moderator", "--event", rehearsal, "--email", "mona@example.org"
    )
    assert removed.returncode == 0, removed.stderr
    page.wait_for_selector("#gate:not([hidden])")
    wait_js(page, "document.querySelector('#gate').textContent.startsWith('You are not a moderator of this event.')")
    assert page.locator("#console").is_hidden()
    assert page.evaluate("window.__parley.connection.stopped") is True

    # an attendee opening the staff pages of their own event
    attendee_ctx = browser.new_context(locale="fr-FR")
    attendee = page_errors.watch(attendee_ctx.new_page(), "attendee")
    attendee.goto(site.url + register(site, "Alix Attendee"))
    attendee.click("#join-button")
    attendee.wait_for_url(f"**/events/{SLUG}")
    staff_page = page_errors.watch(attendee_ctx.new_page(), "attendee-on-staff-pages")
    attendee_sockets = watch_sockets(staff_page)
    for path, text in (
        ("moderate", "Vous ne modérez pas cet événement."),
        ("organise", "Vous n’organisez pas cet événement."),
    ):
        staff_page.goto(site.url + f"/{path}/{SLUG}")
        staff_page.wait_for_selector("#gate:not([hidden])")
        assert staff_page.locator("#gate").inner_text().startswith(text)
        assert staff_page.locator(f"#gate a[href='/events/{SLUG}']").count() == 1, "back to the attendee page"
    staff_page.wait_for_timeout(300)
    assert attendee_sockets == []
    audit.axe(staff_page, "organise-attendee-gate")
    assert not page_errors.errors, page_errors.errors
    assert not audit.violations, "\n".join(audit.violations)
