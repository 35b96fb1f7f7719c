"""A whole morning in real browsers: an organiser, a moderator and two attendees, each in a browser
context of their own, on one real server.

The organiser signs in, the moderator opens a panel, two attendees join with their personal links,
one asks a question that the moderator approves and highlights, the other votes, both ask for the
floor (one with a point of order), the moderator reorders the list by keyboard and by drag and
drop and grants the floor, one attendee's network is cut and restored and the page catches up
without a reload and without losing the question being typed, the speaker runs over time, the
segment ends. Every page is checked with axe-core and photographed in English and French.
"""

from __future__ import annotations

import json
import time
from typing import Any

from websockets.sync.client import connect

from tests.browser.support import SLUG, Audit, demo_link, register, set_language, wait_js, wait_live

PANEL_EN = "Panel 1: Saving lives"
PANEL_FR = "Panel 1 : Sauver des vies"
HOSTILE = '<img src=x onerror="window.__pwned=1"> How do we count the missing?'


def fresh_public_state(site: Any, context: Any) -> dict[str, Any]:
    """What a late joiner with this context's session gets: a snapshot over a plain websocket."""
    token = next(c["value"] for c in context.cookies() if c["name"] == "parley_session")
    url = site.url.replace("http://", "ws://") + f"/ws/events/{SLUG}"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, origin=site.url) as ws:
        while True:
            frame = json.loads(ws.recv(timeout=10))
            if frame["type"] == "snapshot":
                return frame["public"]


def text_of(page: Any, selector: str) -> str:
    return page.locator(selector).inner_text()


def test_a_whole_panel_in_four_browsers(site: Any, browser: Any, screenshots: Any, page_errors: Any) -> None:
    started = time.monotonic()
    audit = Audit(screenshots)

    def context(locale: str, timezone: str, **extra: Any) -> Any:
        ctx = browser.new_context(locale=locale, timezone_id=timezone, viewport={"width": 1280, "height": 900}, **extra)
        ctx.set_default_timeout(15000)
        return ctx

    # -- the small pages, before anybody signs in -------------------------------------------------
    visitor = page_errors.watch(context("en-GB", "America/New_York").new_page(), "visitor")
    visitor.goto(site.url + "/")
    visitor.wait_for_selector(".event-card")
    audit.page(visitor, "home")
    visitor.goto(site.url + "/login")
    audit.page(visitor, "login")
    visitor.goto(site.url + f"/events/{SLUG}")
    visitor.wait_for_selector("#register:not([hidden])")
    audit.page(visitor, "event-register")

    # -- the organiser signs in with the one-time link printed at first start ------------------------
    organiser = page_errors.watch(context("en-US", "America/New_York").new_page(), "organiser")
    organiser.goto(site.url + demo_link(site, "organiser"))
    audit.page(organiser, "signin")
    organiser.click("#signin-button")
    organiser.wait_for_url(f"**/organise/{SLUG}")
    wait_live(organiser)

    # -- the moderator signs in the same way and lands on the console --------------------------------
    moderator = page_errors.watch(context("en-US", "America/New_York").new_page(), "moderator")
    moderator.goto(site.url + demo_link(site, "moderator"))
    moderator.click("#signin-button")
    moderator.wait_for_url(f"**/moderate/{SLUG}")
    wait_live(moderator)

    # -- two attendees join with their personal links: Ana in Geneva (French), Ben in New York ------
    ana_ctx = context("fr-FR", "Europe/Zurich")
    ben_ctx = context("en-US", "America/New_York")
    ana = page_errors.watch(ana_ctx.new_page(), "ana")
    ben = page_errors.watch(ben_ctx.new_page(), "ben")
    ana.goto(site.url + register(site, "Ana Silva", organisation="Brazil", language="fr"))
    ana.wait_for_selector("#join:not([hidden])")
    audit.page(ana, "join")
    ana.click("#join-button")
    ana.wait_for_url(f"**/events/{SLUG}")
    ben.goto(site.url + register(site, "Ben Okafor", category="civil_society"))
    ben.wait_for_selector("#join:not([hidden])")
    ben.click("#join-button")
    for page in (ana, ben):
        wait_live(page)
    assert ana.evaluate("document.documentElement.lang") == "fr", "the language defaults to the browser's"
    assert "Votre fuseau horaire diffère" in text_of(ana, "#tz-note"), "Geneva is not New York: say so"
    assert "(15:30–16:45 chez vous)" in text_of(ana, "#programme-days")
    assert "also your time zone" in text_of(ben, "#tz-note")
    assert ana.locator("#stream-frame").get_attribute("src").endswith("/fr"), "Ana's stream is the French channel"
    ben.select_option("#stream-channel", "floor")
    assert ben.locator("#stream-frame").get_attribute("src").endswith("/floor")

    # -- the moderator opens the first panel; both attendees see it live and hear it announced -------
    moderator.locator("#segment-list li", has_text=PANEL_EN).get_by_role("button").click()
    wait_js(ana, f"document.querySelector('#segment-line').textContent.includes({json.dumps(PANEL_FR)})")
    wait_js(ben, f"document.querySelector('#announcer').textContent.includes({json.dumps('Now live')})")
    assert "Live" in text_of(ben, "#segment-line")

    # -- Ana asks a question (HTML in it stays text), the moderator approves and highlights it -------
    ana.fill("#ask-text", HOSTILE)
    ana.select_option("#ask-to", label="Florian von König")
    ana.click("#ask-submit")
    ana.wait_for_selector("#my-questions li")
    assert ana.input_value("#ask-text") == ""
    wait_js(moderator, "document.querySelector('#tab-pending .count').textContent === '1'")
    assert HOSTILE in text_of(moderator, "#qa-panel")
    moderator.click("#qa-panel [data-fkey=approve]")
    moderator.click("#tab-approved")
    moderator.click("#qa-panel [data-fkey=highlight]")
    ben.wait_for_selector("#qa-answering:not([hidden])")
    assert HOSTILE in text_of(ben, "#qa-answering")
    assert ben.locator("#qa-board img").count() == 0 and not ben.evaluate("window.__pwned"), "user text is never HTML"
    assert "Ana Silva (Brazil) → Florian von König" in text_of(ben, "#qa-board")

    # -- Ben votes; the coalesced total reaches Ana ------------------------------------------------
    ben.click("#qa-board .vote")
    ben.wait_for_selector("#qa-board .vote[aria-pressed=true]")
    wait_js(ana, "document.querySelector('#qa-board .votes')?.textContent === '1'")

    # -- both ask for the floor: Ana first, then Ben with a point of order, which goes before her ---
    ana.fill("#floor-topic", "Search and rescue")
    ana.click("#floor-submit")
    ana.wait_for_selector("#floor-withdraw")
    assert "prochain" in text_of(ana, "#floor-mine")
    ben.check("#floor-poo")
    ben.click("#floor-submit")
    ben.wait_for_selector("#floor-withdraw")
    assert "You are next to speak" in text_of(ben, "#floor-mine")
    wait_js(ana, "document.querySelector('#floor-mine').textContent.includes('numéro 2')")

    # -- the moderator reorders by keyboard (Ana up), then by drag and drop (Ben back on top) -------
    wait_js(moderator, "document.querySelectorAll('#queue-list li.entry').length === 2")
    moderator.locator("#queue-list li.entry", has_text="Ana Silva").focus()
    moderator.keyboard.press("Alt+ArrowUp")
    wait_js(ana, "document.querySelector('#floor-mine').textContent.includes('prochain')")
    wait_js(moderator, "document.querySelector('#queue-list li.entry').textContent.includes('Ana Silva')")
    focused = moderator.evaluate("document.activeElement.closest('li')?.textContent || ''")
    assert "Ana Silva" in focused, "keyboard focus stays on the moved entry"
    moderator.drag_and_drop(
        "#queue-list li.entry:has-text('Ben Okafor') .grip", "#queue-list li.entry:has-text('Ana Silva')"
    )
    wait_js(ben, "document.querySelector('#floor-mine').textContent.includes('next to speak')")
    audit.page(moderator, "moderate")

    # -- the floor goes to Ben, with a 15-second limit ----------------------------------------------
    moderator.click("#queue-list li.entry:has-text('Ben Okafor') [data-fkey=grant]")
    wait_js(ben, "document.querySelector('#floor-mine').textContent.includes('You have the floor')")
    wait_js(ana, "document.querySelector('#speaker .speaker-name')?.textContent.includes('Ben Okafor')")
    assert "Motion d’ordre" in text_of(ana, "#speaker")
    moderator.fill("#limit-minutes", "0.25")
    moderator.click("#speech-actions button[type=submit]")
    wait_js(ben, "document.querySelector('.timer-text').textContent.includes('/ 0:15')")

    # -- Ana's network is cut while she types; things happen; it comes back ---------------------------
    ana.evaluate("window.__sameDocument = true")
    ana.fill("#ask-text", "A question typed while the network is down")
    ana_ctx.set_offline(True)
    wait_js(ana, "document.querySelector('#conn').dataset.state === 'offline'")
    assert "hors ligne" in text_of(ana, "#conn")
    moderator.fill("#notice-text", "The next panel starts at 10:52")
    moderator.click("#notice-form button[type=submit]")
    moderator.click("#queue-toggle")
    ben.wait_for_selector("#notice:not([hidden])")
    ana_ctx.set_offline(False)
    wait_live(ana)
    wait_js(ana, "document.querySelector('#notice').textContent.includes('10:52')")
    wait_js(ana, "document.querySelector('#floor-state').textContent.includes('close')")
    assert ana.evaluate("window.__sameDocument") is True, "caught up without a reload"
    assert ana.evaluate("window.__parley.store.snapshots") == 1, "the missed events were replayed, no resync"
    assert ana.evaluate("window.__parley.connection.sessions") == 2
    assert ana.input_value("#ask-text") == "A question typed while the network is down"
    assert ana.evaluate("window.__parley.store.public") == fresh_public_state(site, ana_ctx), (
        "the state Ana's page built from events is the state a late joiner loads"
    )
    audit.page(ana, "event-live", languages=("fr", "en"))
    ana.click("#floor-withdraw")
    ana.wait_for_selector("#floor-form:not([hidden])")
    wait_js(moderator, "document.querySelectorAll('#queue-list li.entry').length === 0")
    audit.page(ben, "event-live-ny", languages=("en",), axe=False)

    # -- Ben runs over time: the warning shows, on his page and the moderator's ----------------------
    ben.wait_for_selector("#overtime:not([hidden])", timeout=25000)
    moderator.wait_for_selector("#overtime:not([hidden])")
    assert "Over time by" in text_of(ben, "#overtime")

    # -- a break: the moderator pauses the segment and resumes it; the question is marked answered ----
    moderator.click("#live-segment [data-fkey=pause]")
    ben.wait_for_selector("#segment-line .status-paused")
    moderator.click("#live-segment [data-fkey=resume]")
    ben.wait_for_selector("#segment-line .status-live")
    moderator.click("#tab-highlighted")
    moderator.click("#qa-panel [data-fkey=answer]")
    ana.wait_for_selector("#qa-answering[hidden]", state="attached")
    ana.wait_for_selector("#qa-board .question.is-answered")

    # -- the organiser sees who is online and the registrations --------------------------------------
    wait_js(organiser, "Number(document.querySelector('#online-now')?.textContent) >= 2", timeout=20000)
    organiser.reload()
    wait_live(organiser)
    organiser.wait_for_selector("#reg-table tbody tr[data-id]")
    assert organiser.locator("#reg-table tbody tr[data-id]").count() == 2
    organiser.fill("#reg-q", "okafor")
    organiser.click("#reg-search button")
    wait_js(organiser, "document.querySelectorAll('#reg-table tbody tr[data-id]').length === 1")
    assert organiser.locator("#csv-link").get_attribute("href") == f"/api/events/{SLUG}/registrations.csv?q=okafor"
    audit.page(organiser, "organise")

    # -- the segment ends ---------------------------------------------------------------------------
    moderator.click("#segment-end")
    for page, word in ((ana, "Terminé"), (ben, "Ended")):
        wait_js(page, f"document.querySelector('#programme-days').textContent.includes({json.dumps(word)})")
    wait_js(ben, "document.querySelector('#announcer').textContent.includes('has ended')")
    assert "Nothing is live" in text_of(ben, "#segment-line")
    moderator.wait_for_selector("#segment-list li:has-text('Panel 1') .status-ended")
    set_language(moderator, "fr")
    assert "Console de modération" in text_of(moderator, "h1")
    audit.page(moderator, "moderate-after", languages=("fr", "en"))

    assert not page_errors.errors, page_errors.errors
    assert not audit.violations, "\n".join(audit.violations)
    assert len(audit.shots) >= 14
    elapsed = time.monotonic() - started
    print(f"\nscene: {elapsed:.1f} s, axe on {len(audit.checked)} pages, {len(audit.shots)} screenshots")
