"""Written statements in the browser, in French, English and Spanish: three delegations left waiting
when a panel ends write by keyboard, the moderator rejects one and approves the others, the organiser
moves the deadline, and everyone reads the approved statements under the panel on the event page.
"""

from __future__ import annotations

import json
from typing import Any

from tests.browser.support import SLUG, Audit, demo_link, register, wait_js, wait_live

PANEL_EN = "Panel 1"
TEXTS = {
    "fr": "La France soutient un pacte fondé sur les droits.",
    "en": "Ghana supports safe and regular pathways.",
    "es": "México apoya la cooperación regional.",
}


def text_of(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text())


def test_statements_are_written_approved_and_published_in_three_languages(
    site: Any, browser: Any, screenshots: Any, page_errors: Any
) -> None:
    audit = Audit(screenshots)

    def page_in(locale: str, name: str) -> Any:
        ctx = browser.new_context(
            locale=locale, timezone_id="America/New_York", viewport={"width": 1280, "height": 900}
        )
        ctx.set_default_timeout(15000)
        return page_errors.watch(ctx.new_page(), name)

    moderator = page_in("en-GB", "moderator")
    moderator.goto(site.url + demo_link(site, "moderator"))
    moderator.click("#signin-button")
    moderator.wait_for_url(f"**/moderate/{SLUG}")
    wait_live(moderator)

    delegates = {}
    for code, name, organisation, locale in (
        ("fr", "Aline Roux", "Mission de la France", "fr-FR"),
        ("en", "Kofi Mensah", "Mission of Ghana", "en-GB"),
        ("es", "Lucía Pérez", "Misión de México", "es-ES"),
    ):
        page = page_in(locale, name)
        page.goto(site.url + register(site, name, organisation=organisation, language=code))
        page.wait_for_selector("#join:not([hidden])")
        page.click("#join-button")
        page.wait_for_url(f"**/events/{SLUG}")
        wait_live(page)
        assert page.evaluate("document.documentElement.lang") == code
        delegates[code] = page

    # the panel runs; the three ask for the floor and are still waiting when it ends
    moderator.locator("#segment-list li", has_text=PANEL_EN).get_by_role("button").click()
    moderator.wait_for_selector("#live-segment .status-live")
    for page in delegates.values():
        wait_js(page, "!document.querySelector('#floor-submit').disabled")
        page.click("#floor-submit")
        page.wait_for_selector("#floor-withdraw")
    wait_js(moderator, "window.__parley.store.public.queue.waiting.length === 3")
    assert all(page.locator("#statement").is_hidden() for page in delegates.values()), "no form before the end"
    moderator.click("#segment-end")
    moderator.wait_for_selector("#live-segment:has-text('Nothing is live')")

    # each writes in their language, by keyboard, with the character count and the deadline shown
    said = {"fr": "déclaration écrite", "en": "written statement", "es": "declaración escrita"}
    for code, page in delegates.items():
        wait_js(page, f"document.querySelector('#announcer').textContent.includes({json.dumps(said[code])})")
    for code, page in delegates.items():
        page.wait_for_selector("#statement:not([hidden]) textarea")
        form = page.locator("#statement-body .statement-window").first
        assert form.locator("[id^=st-deadline]").inner_text().strip(), "the deadline is shown"
        area = form.locator("textarea")
        area.focus()
        page.keyboard.type(TEXTS[code])
        count = form.locator("[id^=st-count]")
        assert count.get_attribute("aria-live") == "polite"
        assert count.inner_text().startswith(f"{len(TEXTS[code])} / 5") and "5000" in count.inner_text().replace(
            "\u202f", ""
        ).replace(" ", "").replace(",", "").replace(".", "")
        page.keyboard.press("Tab")  # to the language
        assert page.evaluate("document.activeElement.tagName") == "SELECT"
        form.locator("select").select_option(code)
        page.keyboard.press("Tab")  # to the button
        page.keyboard.press("Enter")
        page.wait_for_selector("#statement-body .statement-status.is-pending")
        wait_js(page, "document.querySelector('#announcer').textContent.length > 0")
        assert page.evaluate("document.activeElement.dataset.fkey") == "st-submit", "the focus stays on the form"
    audit.page(delegates["es"], "statement-form-es", languages=("es",))

    # the moderator rejects the Spanish one with a reason and approves the two others
    wait_js(moderator, "document.querySelectorAll('#statement-inbox li.statement.is-pending').length === 3")
    audit.page(moderator, "statement-inbox")
    lucia = moderator.locator("#statement-inbox li.statement", has_text="Lucía Pérez")
    lucia.locator("input").fill("Por favor, sea más concreta.")
    lucia.locator("[data-fkey=reject]").click()
    wait_js(moderator, "document.querySelectorAll('#statement-inbox li.statement.is-rejected').length === 1")
    for name in ("Aline Roux", "Kofi Mensah"):
        button = moderator.locator("#statement-inbox li.statement", has_text=name).locator("[data-fkey=approve]")
        button.focus()
        moderator.keyboard.press("Enter")
        wait_js(
            moderator,
            f"window.__parley.store.public.statements.published.some((s) => s.author.name === {json.dumps(name)})",
        )

    aline = delegates["fr"]
    aline.wait_for_selector("#statement-body .statement-status.is-approved")
    wait_js(aline, "document.querySelector('#announcer').textContent.includes('approuvée')")

    # Lucía learns why on her next load, and sends a new version, which is approved
    lucia_page = delegates["es"]
    lucia_page.reload()
    wait_live(lucia_page)
    lucia_page.wait_for_selector("#statement-body .statement-status.is-rejected")
    assert "Motivo: Por favor, sea más concreta." in text_of(lucia_page, "#statement-body")
    area = lucia_page.locator("#statement-body textarea")
    area.fill(TEXTS["es"] + " Y pide vías seguras.")
    lucia_page.click("#statement-body button[type=submit]")
    lucia_page.wait_for_selector("#statement-body .statement-status.is-pending")
    moderator.locator("#statement-inbox li.statement", has_text="Lucía Pérez").locator("[data-fkey=approve]").click()
    lucia_page.wait_for_selector("#statement-body .statement-status.is-approved")

    # everyone reads the three under the panel in the programme, each in the language it was written in
    for code, page in delegates.items():
        wait_js(page, "document.querySelectorAll('#programme-days .statements li.statement').length === 3")
        quotes = page.eval_on_selector_all(
            "#programme-days .statements blockquote", "(all) => all.map((q) => [q.lang, q.textContent])"
        )
        assert sorted(lang for lang, _ in quotes) == ["en", "es", "fr"]
        assert [text for lang, text in quotes if lang == "fr"] == [TEXTS["fr"]]
    assert "Written in Spanish" in text_of(delegates["en"], "#programme-days .statements")
    assert "Rédigée en espagnol" in text_of(delegates["fr"], "#programme-days .statements")
    assert "Escrita en francés" in text_of(delegates["es"], "#programme-days .statements")
    audit.page(delegates["fr"], "statements-published", languages=("fr", "en", "es"))

    # the organiser moves the deadline from the dashboard; the delegations see it at once
    organiser = page_in("en-GB", "organiser")
    organiser.goto(site.url + demo_link(site, "organiser"))
    organiser.click("#signin-button")
    organiser.wait_for_url(f"**/organise/{SLUG}")
    wait_live(organiser)
    assert "24 hours after each segment ends" in text_of(organiser, "#st-rule")
    assert "Published: 3" in text_of(organiser, "#st-counts")
    organiser.fill("#st-hours", "2")
    organiser.click("#st-deadline-save")
    wait_js(organiser, "document.querySelector('#st-rule').textContent.includes('2 hours')")
    wait_js(aline, "window.__parley.store.public.statements.deadline.after_s === 7200")
    audit.axe(organiser, "organise-statements")

    assert not page_errors.errors, page_errors.errors
    assert not audit.violations, "\n".join(audit.violations)
