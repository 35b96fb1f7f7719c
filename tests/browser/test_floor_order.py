"""The list of speakers by category and the speaker's time warnings, in a real browser.

The moderator switches the list to "by category" and back from the console (announced in each
language); the category of each waiting delegation is shown next to it. Then the speaker (on
their own page, in French) and the moderator (in Spanish) see, and hear once, the warning at two
minutes thirty left and at time over, and the moderator's forecast end of the morning moves.

Time is driven, not waited for: the pages keep their clock to the server's (each heartbeat carries
``server_time``), so the test installs Playwright's clock in each page and moves both the page's
system time and the server time its heartbeats show by the same amount.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.browser.support import SLUG, Audit, demo_link, register, set_language, socket_of, wait_js, wait_live

COUNT_ANNOUNCEMENTS = """
(() => {
  window.__said = [];
  for (const id of ["announcer", "alerts"]) {
    new MutationObserver(() => {
      const text = document.getElementById(id).textContent;
      if (text) window.__said.push(text);
    }).observe(document.getElementById(id), { childList: true, characterData: true, subtree: true });
  }
  return true;
})()
"""


class TimeShift:
    """Moves what the pages see as the server's time: heartbeats' ``server_time`` plus ``seconds``,
    and each page's own clock by the same jump."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.pages: list[Any] = []

    def route(self, page: Any) -> None:
        page.clock.install()
        self.pages.append(page)

        def shifted(ws: Any) -> None:
            server = ws.connect_to_server()

            def from_server(message: str | bytes) -> None:
                frame = json.loads(message)
                if frame.get("type") == "heartbeat" and self.seconds:
                    at = datetime.fromisoformat(frame["server_time"].replace("Z", "+00:00"))
                    frame["server_time"] = (at + timedelta(seconds=self.seconds)).isoformat()
                    message = json.dumps(frame)
                ws.send(message)

            server.on_message(from_server)

        page.route_web_socket(f"**/ws/events/{SLUG}*", shifted)

    def to(self, seconds: float) -> None:
        """Jump to ``seconds`` ahead of the real time; no timer fires on the way (as after a laptop
        lid is opened, the pages' own timers keep their pace)."""
        self.seconds = seconds
        for page in self.pages:
            page.clock.set_system_time(datetime.now(UTC) + timedelta(seconds=seconds))


def attendee_token(site: Any, name: str, category: str) -> str:
    joined = httpx.post(
        f"{site.url}/api/join", json={"token": register(site, name, category=category).rsplit("/", 1)[1]}
    )
    return str(joined.json()["session_token"])


def queue_names(page: Any) -> list[str]:
    return list(page.evaluate("window.__parley.store.public.queue.waiting.map((e) => e.name)"))


def test_the_list_by_category_and_the_speakers_time_warnings(
    site: Any, browser: Any, screenshots: Any, page_errors: Any
) -> None:
    audit = Audit(screenshots)
    time = TimeShift()
    mod_ctx = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    mod_ctx.set_default_timeout(15000)
    mod = page_errors.watch(mod_ctx.new_page(), "moderator")
    time.route(mod)
    mod.goto(site.url + demo_link(site, "moderator"))
    mod.click("#signin-button")
    mod.wait_for_url(f"**/moderate/{SLUG}")
    wait_live(mod)
    mod.locator("#segment-list [data-fkey=open]").first.click()
    mod.wait_for_selector("#live-segment .status-live")

    speaker_ctx = browser.new_context(locale="fr-FR")
    speaker_ctx.set_default_timeout(15000)
    speaker = page_errors.watch(speaker_ctx.new_page(), "speaker")
    time.route(speaker)
    speaker.goto(site.url + register(site, "Remy Second", category="member_state"))
    speaker.click("#join-button")
    speaker.wait_for_url(f"**/events/{SLUG}")
    wait_live(speaker)
    set_language(speaker, "fr")

    with socket_of(site, attendee_token(site, "Quinn First", category="civil_society")) as quinn:
        quinn("floor.request", topic="Funding")
        wait_js(mod, "document.querySelectorAll('#queue-list li.entry').length === 1")
        speaker.fill("#floor-topic", "Search and rescue")
        speaker.click("#floor-submit")
        wait_js(mod, "document.querySelectorAll('#queue-list li.entry').length === 2")
        assert queue_names(mod) == ["Quinn First", "Remy Second"]
        quinn_row = mod.locator("#queue-list li.entry:has-text('Quinn First')")
        assert quinn_row.locator(".tag.category").inner_text() == "Civil society"
        remy_row = mod.locator("#queue-list li.entry:has-text('Remy Second')")
        assert remy_row.locator(".tag.category").inner_text() == "Member State"
        assert mod.locator("label[for=queue-order]").inner_text() == "Order of the list"

        # by category, from the keyboard: Member States first
        mod.focus("#queue-order")
        mod.select_option("#queue-order", "category")
        wait_js(mod, "document.querySelector('#announcer').textContent.includes('ordered by category')")
        wait_js(speaker, "document.querySelector('#announcer').textContent.includes('classée par catégorie')")
        wait_js(mod, "window.__parley.store.public.queue.order === 'category'")
        assert queue_names(mod) == ["Remy Second", "Quinn First"]
        audit.page(mod, "moderate-by-category", languages=("en",))

        # back to the order of requests, in Spanish
        set_language(mod, "es")
        assert (
            mod.locator("#queue-order option[value=category]").inner_text() == "Por categoría y luego hora de solicitud"
        )
        assert remy_row.locator(".tag.category").inner_text() == "Estado miembro"
        mod.select_option("#queue-order", "request")
        wait_js(mod, "document.querySelector('#announcer').textContent.includes('orden de las solicitudes')")
        assert queue_names(mod) == ["Quinn First", "Remy Second"]

        # the floor to Remy, 3 minutes
        mod.click("#queue-list li.entry:has-text('Remy Second') [data-fkey=grant]")
        speaker.wait_for_selector("#speaker .tag.you")
        mod.wait_for_selector("#speech-actions [data-fkey=spause]")
        assert speaker.locator("#time-warning").is_hidden() and mod.locator("#time-warning").is_hidden()
        wait_js(mod, "document.querySelector('#mod-drift').textContent.length > 0")
        end_before = mod.locator("#mod-drift").inner_text()
        for page in (mod, speaker):
            page.evaluate(COUNT_ANNOUNCEMENTS)

        # 2:30 left: shown and said once to the speaker and the moderator
        time.to(31)
        wait_js(speaker, "!document.querySelector('#time-warning').hidden")
        wait_js(mod, "!document.querySelector('#time-warning').hidden")
        # 2:2x when read at once; a loaded machine may take a few seconds more to read it
        assert re.match(r"Il reste 2:[0-2]\d", speaker.locator("#time-warning").inner_text())
        assert re.match(r"Quedan 2:[0-2]\d", mod.locator("#time-warning").inner_text())
        wait_js(speaker, "window.__said.includes('Il vous reste 2 minutes 30 secondes.')")
        wait_js(mod, "window.__said.includes('A Remy Second le quedan 2 minutos y 30 segundos.')")
        time.to(33)
        speaker.wait_for_timeout(1200)  # several ticks: the warning stays, the announcement is not repeated
        assert speaker.evaluate("window.__said.filter((s) => s.includes('2 minutes 30')).length") == 1
        assert mod.evaluate("window.__said.filter((s) => s.includes('2 minutos y 30')).length") == 1
        audit.axe(speaker, "event-speaker-time-warning")
        audit.axe(mod, "moderate-time-warning")
        audit.shot(speaker, "event-speaker-time-warning.fr")

        # ten minutes over: the warning turns to the over-time line, said once, and the morning's end moves
        time.to(180 + 600)
        wait_js(speaker, "!document.querySelector('#overtime').hidden")
        wait_js(mod, "!document.querySelector('#overtime').hidden")
        assert speaker.locator("#time-warning").is_hidden()
        assert speaker.locator("#overtime").inner_text().startswith("Temps dépassé de 10:")
        wait_js(speaker, "window.__said.includes('Votre temps de parole est écoulé.')")
        wait_js(mod, "window.__said.includes('Remy Second ha excedido su tiempo.')")
        assert speaker.locator("#alerts").text_content() == "Votre temps de parole est écoulé."
        wait_js(mod, f"document.querySelector('#mod-drift').textContent !== {json.dumps(end_before)}")
        audit.shot(mod, "moderate-over-time.es")
        time.to(180 + 605)
        mod.wait_for_timeout(1200)
        assert mod.evaluate("window.__said.filter((s) => s.includes('excedido')).length") == 1

    mod.click("#speech-end")
    mod.wait_for_selector("#speech-actions [data-fkey=spause]", state="detached")
    mod.click("#segment-end")
    mod.wait_for_selector("#live-segment .status-live", state="detached")
    assert not page_errors.errors, page_errors.errors
    assert not audit.violations, "\n".join(audit.violations)
