"""The pages one at a time: registering on a phone, signing in with a password, keyboard only,
375 px wide, the language from the browser."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.browser.support import (
    SLUG,
    Audit,
    attendee_token,
    demo_link,
    register,
    set_language,
    socket_of,
    staff_token,
    wait_js,
    wait_live,
)

PHONE = {"width": 375, "height": 740}


class WorkersApi:
    """The attendance timeline, reminders and reports routes, answered in the browser as the
    workers' API specifies them (so the dashboard is tested whether or not they have landed)."""

    def __init__(self) -> None:
        self.compiled: list[str] = []
        self.reports = [
            {
                "scope": "2022-02-28",
                "format": fmt,
                "url": f"/files/d1.{fmt}",
                "compiled_at": "2022-02-28T17:30:00+00:00",
                "bytes": 2048 * (i + 1),
            }
            for i, fmt in enumerate(("csv", "xlsx", "pdf"))
        ]

    def install(self, context: Any) -> None:
        base = f"**/api/events/{SLUG}"
        context.route(f"{base}/attendance/timeline?*", self.timeline)
        context.route(f"{base}/reminders", self.reminders)
        context.route(f"{base}/reports", self.report_files)

    @staticmethod
    def json(route: Any, body: Any, status: int = 200) -> None:
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    def timeline(self, route: Any) -> None:
        start = datetime(2022, 2, 28, 14, 0, tzinfo=UTC)
        minutes = [
            {"minute": (start + timedelta(minutes=i)).isoformat(), "present": min(42, i // 2) if i < 150 else 30}
            for i in range(180)
        ]
        segments = [
            {
                "id": 2,
                "title": {"fr": "Panel 1 : Sauver des vies", "en": "Panel 1: Saving lives"},
                "unique_attendees": 51,
                "peak": 42,
            },
        ]
        self.json(route, {"day": "2022-02-28", "minutes": minutes, "segments": segments})

    def reminders(self, route: Any) -> None:
        def row(kind: str, due_at: str, sent: int, failed: int) -> dict[str, Any]:
            audience = kind.split("-")[0]
            return {"day": "2022-02-28", "kind": kind, "audience": audience, "due_at": due_at, "due": sent + failed,
                    "sent": sent, "failed": failed, "pending": 0, "skipped": 0}  # fmt: skip

        rows = [
            row("attendees-24h", "2022-02-27T09:00:00-05:00", 120, 2),
            row("attendees-1h", "2022-02-28T08:00:00-05:00", 122, 0),
            row("speakers-48h", "2022-02-26T09:00:00-05:00", 3, 0),
        ]
        self.json(route, {"reminders": rows, "schedule": {"attendees": ["24h", "1h"], "speakers": ["48h"]}})

    def report_files(self, route: Any) -> None:
        if route.request.method == "POST":
            scope = json.loads(route.request.post_data)["scope"]
            self.compiled.append(scope)
            self.reports += [
                {
                    "scope": scope,
                    "format": fmt,
                    "url": f"/files/{scope}.{fmt}",
                    "compiled_at": "2022-03-02T18:00:00+00:00",
                    "bytes": 4096,
                }
                for fmt in ("csv", "xlsx", "pdf")
            ]
            self.json(route, {"scope": scope}, status=202)
            return
        self.json(route, {"reports": self.reports})


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_registering_on_a_phone_in_spanish(site: Any, browser: Any, screenshots: Any, page_errors: Any) -> None:
    audit = Audit(screenshots)
    ctx = browser.new_context(locale="es-ES", timezone_id="Asia/Tokyo", viewport=PHONE, is_mobile=True, has_touch=True)
    page = page_errors.watch(ctx.new_page(), "phone")
    page.goto(site.url + f"/events/{SLUG}")
    page.wait_for_selector("#register:not([hidden])")
    assert page.evaluate("document.documentElement.lang") == "es"
    assert page.locator("#register-h").inner_text() == "Inscripción"
    note = page.locator("#tz-note").inner_text()
    assert "Nueva York" in note and "Asia/Tokyo" in note

    # nothing filled in: every missing field says so, and focus goes to the first
    page.click("#register-form button[type=submit]")
    assert page.locator("#reg-name").get_attribute("aria-invalid") == "true"
    assert page.locator("#reg-category").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "reg-name"
    assert "Escriba su nombre" in page.locator("#reg-name-error").inner_text()

    page.fill("#reg-name", "Lucía Fernández")
    page.fill("#reg-email", "lucia@example.org")
    page.fill("#reg-org", "Universidad de Chile")
    page.select_option("#reg-category", "academia")
    page.fill("#reg-country", "Chile")
    page.check("#reg-listed")
    page.click("#register-form button[type=submit]")
    page.wait_for_selector("#join-now")
    assert "/join/" in page.locator("#join-link").inner_text()
    assert no_horizontal_scroll(page), "the registration fits 375 px"
    audit.page(page, "phone-registered", languages=("es", "en", "fr"), axe=False)
    page.click("#join-now")
    wait_live(page)
    assert no_horizontal_scroll(page), "the live page fits 375 px"
    audit.page(page, "phone-event-live", languages=("es", "en", "fr"))

    # the same email again: the form says it is taken, next to the email field
    other = page_errors.watch(browser.new_context(locale="en-GB", viewport=PHONE).new_page(), "other")
    other.goto(site.url + f"/events/{SLUG}")
    other.wait_for_selector("#register:not([hidden])")
    other.fill("#reg-name", "Lucía again")
    other.fill("#reg-email", "lucia@example.org")
    other.select_option("#reg-category", "other")
    other.click("#register-form button[type=submit]")
    other.wait_for_selector("#reg-email-error")
    assert "already registered" in other.locator("#reg-email-error").inner_text()
    assert not page_errors.errors, page_errors.errors
    assert not audit.violations, "\n".join(audit.violations)


def test_staff_sign_in_with_a_password_and_the_console_by_keyboard(
    site: Any, browser: Any, screenshots: Any, page_errors: Any
) -> None:
    audit = Audit(screenshots)
    added = site.parley.cli(
        "users", "add", "--role", "moderator", "--event", SLUG, "--email", "mo@example.org",
        "--name", "Mo Derator", "--password-stdin", input="correct horse battery staple\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    ctx = browser.new_context(locale="en-GB", viewport=PHONE)
    page = page_errors.watch(ctx.new_page(), "moderator")
    page.goto(site.url + f"/moderate/{SLUG}")
    page.wait_for_selector("#gate:not([hidden]) a")
    page.click("#gate a")
    page.wait_for_url("**/login?next=*")
    page.fill("#login-email", "mo@example.org")
    page.fill("#login-password", "wrong")
    page.click("#login-form button[type=submit]")
    wait_js(page, "document.querySelector('#login-error').textContent.includes('wrong password')")
    page.fill("#login-password", "correct horse battery staple")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/moderate/{SLUG}")
    wait_live(page)
    assert no_horizontal_scroll(page), "the console fits 375 px"

    # keyboard only: Tab to the first "Open" button, the focus ring shows, Enter opens the segment
    opened = False
    for _ in range(40):
        page.keyboard.press("Tab")
        label = page.evaluate("document.activeElement.getAttribute('aria-label') || ''")
        if label.startswith("Open "):
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline == "solid", "a visible focus ring"
            page.keyboard.press("Enter")
            opened = True
            break
    assert opened, "an Open button is reachable with Tab"
    page.wait_for_selector("#live-segment .status-live")
    wait_js(page, f"document.querySelector('#announcer').textContent.includes({json.dumps('Now live')})")

    # the Q&A inbox: edit a pending question, dismiss it, restore it, approve, archive, restore
    with socket_of(site, attendee_token(site, "Asker One")) as ok:
        ok("question.ask", text="Waht about funding?", anonymous=True)
    page.wait_for_selector("#qa-panel li.question:has-text('Waht about funding?')")
    assert "anonymous to attendees" in page.locator("#qa-panel").inner_text()
    page.click("#qa-panel [data-fkey=edit]")
    page.fill("#qa-panel textarea", "What about funding?")
    page.click("#qa-panel [data-fkey=save]")
    page.wait_for_selector("#qa-panel .q-text:text-is('What about funding?')")
    assert "Original: Waht about funding?" in page.locator("#qa-panel").inner_text()
    page.click("#qa-panel [data-fkey=dismiss]")
    wait_js(page, "document.querySelector('#tab-dismissed .count').textContent === '1'")  # the decision is back
    page.click("#tab-dismissed")
    page.click("#qa-panel [data-fkey=restore]")
    wait_js(page, "document.querySelector('#tab-pending .count').textContent === '1'")
    page.click("#tab-pending")
    page.click("#qa-panel [data-fkey=approve]")
    wait_js(page, "document.querySelector('#tab-approved .count').textContent === '1'")
    page.click("#tab-approved")
    page.wait_for_selector("#qa-panel li.question:has-text('What about funding?')")
    page.click("#qa-panel [data-fkey=archive]")
    page.click("#tab-archived")
    page.click("#qa-panel [data-fkey=restore]")
    wait_js(page, "document.querySelector('#tab-approved .count').textContent === '1'")
    page.focus("#tab-archived")
    page.keyboard.press("ArrowLeft")  # the tabs follow the arrow keys
    assert page.evaluate("document.activeElement.id") == "tab-answered"
    audit.page(page, "phone-moderate")

    # the organiser's dashboard on the phone too, with the workers' data as the API will serve it
    org_ctx = browser.new_context(locale="fr-FR", viewport=PHONE)
    workers = WorkersApi()
    workers.install(org_ctx)
    org = page_errors.watch(org_ctx.new_page(), "organiser")
    org.goto(site.url + demo_link(site, "organiser"))
    org.click("#signin-button")
    org.wait_for_url(f"**/organise/{SLUG}")
    wait_live(org)
    org.wait_for_selector("#reg-table tbody tr")
    org.wait_for_selector("#timeline svg.chart polyline")
    assert org.locator("#timeline svg.chart").get_attribute("role") == "img"
    assert "pic de 42" in org.locator("#timeline svg desc").text_content()
    assert org.locator("#timeline details tbody tr").count() == 37  # every 5 minutes of 3 hours, and the last
    assert "Panel 1 : Sauver des vies" in org.locator("#timeline").inner_text()
    assert org.locator("#reminders-body tr.has-failures").count() == 1
    assert "Participants · 24h avant" in org.locator("#reminders-body").inner_text()
    assert org.locator("#reports-body a[href='/files/d1.csv']").count() == 1
    org.click("button[aria-label='Compiler le rapport : Tout l’événement']")
    org.wait_for_selector("#reports-body a[href='/files/event.pdf']", timeout=10000)
    assert workers.compiled == ["event"]
    assert no_horizontal_scroll(org), "the dashboard fits 375 px (the table scrolls inside its region)"
    audit.page(org, "phone-organise", languages=("fr", "en"))
    set_language(org, "es")
    assert org.locator("#reg-h").inner_text() == "Inscripciones"

    page.click("#segment-end")
    page.wait_for_selector("#live-segment:has-text('Nothing is live')")
    assert not page_errors.errors, page_errors.errors
    assert not audit.violations, "\n".join(audit.violations)


def test_a_lost_event_is_replayed_and_a_lost_history_resyncs(site: Any, browser: Any, page_errors: Any) -> None:
    dropped: list[str] = []
    drop_next: set[str] = set()

    def lossy(ws: Any) -> None:
        """Forward every frame to the page, except the next event of a type in ``drop_next``."""
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            kind = frame.get("event", {}).get("type") if frame.get("type") == "event" else None
            if kind in drop_next:
                drop_next.discard(kind)
                dropped.append(kind)
                return
            ws.send(message)

        server.on_message(from_server)

    ctx = browser.new_context(locale="en-GB")
    page = page_errors.watch(ctx.new_page(), "attendee")
    page.route_web_socket(f"**/ws/events/{SLUG}*", lossy)
    page.goto(site.url + register(site, "Gap Tester"))
    page.click("#join-button")
    page.wait_for_url(f"**/events/{SLUG}")
    wait_live(page)
    with socket_of(site, staff_token(site, "gaps@example.org")) as ok:
        # an event lost in the middle: the next one shows the gap, the page resumes on the open socket
        drop_next.add("notice.posted")
        ok("notice.set", text="First notice")
        ok("notice.clear")
        ok("notice.set", text="Second notice")
        wait_js(page, "document.querySelector('#notice').textContent.includes('Second notice')")
        assert dropped == ["notice.posted"]
        assert page.evaluate("window.__parley.connection.resumes") >= 1

        # the last event lost: nothing follows it, the heartbeat's seq shows the gap
        drop_next.add("notice.cleared")
        ok("notice.clear")
        page.wait_for_selector("#notice", state="hidden", timeout=10000)
        assert dropped == ["notice.posted", "notice.cleared"]
        assert page.evaluate("window.__parley.store.snapshots") == 1, "replayed, never reloaded"

        # the page's position is from a history the server no longer has: it gets resync and a snapshot
        page.evaluate("window.__parley.store.positions.public.epoch = 'lost-epoch'")
        page.evaluate("window.__parley.connection.ws.close()")
        ok("notice.set", text="Third notice")
        wait_js(page, "window.__parley.store.snapshots === 2")
        wait_js(page, "document.querySelector('#notice').textContent.includes('Third notice')")
        wait_live(page)
    assert not page_errors.errors, page_errors.errors
