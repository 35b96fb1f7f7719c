"""An attendee and the moderator with the same number, both waiting and asking, in the browser.

Registrations and staff accounts are numbered apart: on a fresh site the demo moderator is staff
account 2 and the second person to register is registration 2. Each page marks its own entry,
speech and question as the person's own ("You"), and only those: the pages compare person
references (``"attendee:2"`` / ``"staff:2"``), never numbers or names.
"""

from __future__ import annotations

from typing import Any

from tests.browser.support import SLUG, demo_link, register, wait_js, wait_live


def test_the_moderator_and_the_attendee_with_the_same_number_each_see_their_own(
    site: Any, browser: Any, page_errors: Any
) -> None:
    ctx = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15000)
    moderator = page_errors.watch(ctx.new_page(), "moderator")
    moderator.goto(site.url + demo_link(site, "moderator"))
    moderator.click("#signin-button")
    moderator.wait_for_url(f"**/moderate/{SLUG}")
    wait_live(moderator)
    staff_who = moderator.evaluate("window.__parley.store.me.who")
    assert staff_who.startswith("staff:"), staff_who
    number = int(staff_who.split(":")[1])

    # register people until one has the moderator's number (ids are given in order on a fresh site)
    attendee_ctx = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    attendee_ctx.set_default_timeout(15000)
    twin = page_errors.watch(attendee_ctx.new_page(), "attendee")
    paths = [register(site, f"Twin Number {n}", organisation="Ruritania") for n in range(1, number + 1)]
    twin.goto(site.url + paths[-1])
    twin.wait_for_selector("#join:not([hidden])")
    twin.click("#join-button")
    twin.wait_for_url(f"**/events/{SLUG}")
    wait_live(twin)
    assert twin.evaluate("window.__parley.store.me.who") == f"attendee:{number}", "the same number, another person"

    moderator.locator("#segment-list [data-fkey=open]").first.click()
    moderator.wait_for_selector("#live-segment .status-live")

    # both ask for the floor: the attendee first, then the moderator from the console's connection
    wait_js(twin, "!document.querySelector('#floor-submit').disabled")
    twin.fill("#floor-topic", "Funding")
    twin.click("#floor-submit")
    twin.wait_for_selector("#floor-withdraw")
    moderator.evaluate("window.__parley.connection.send('floor.request', { topic: 'Procedure' })")
    wait_js(moderator, "document.querySelectorAll('#queue-list li.entry').length === 2")
    wait_js(twin, "document.querySelectorAll('#floor-list li').length === 2")

    # each page marks the other's entry as someone else's
    mine = (
        "[...document.querySelectorAll('{}')]"
        ".map((li) => [li.querySelector('.person-name').textContent, li.classList.contains('mine')])"
    )
    assert moderator.evaluate(mine.format("#queue-list li.entry")) == [
        [f"Twin Number {number}", False],
        ["Demo moderator", True],
    ]
    assert moderator.locator("#queue-list li.entry.mine .tag.you").inner_text() == "You"
    assert moderator.locator("#queue-list li.entry:not(.mine) .tag.you").count() == 0
    assert twin.evaluate(mine.format("#floor-list li")) == [[f"Twin Number {number}", True], ["Demo moderator", False]]
    assert "You are next to speak" in twin.locator("#floor-mine").inner_text()

    # the floor to the moderator's own entry: the console says it is theirs, the attendee's page does not
    moderator.click("#queue-list li.entry.mine [data-fkey=grant]")
    moderator.wait_for_selector("#speaker .speaker-name .tag.you")
    assert "Demo moderator" in moderator.locator("#speaker .speaker-name").inner_text()
    wait_js(twin, "window.__parley.store.public.stage.speech?.who === " + repr(staff_who))
    said = twin.locator("#floor-mine").inner_text()
    assert said.startswith("You are next to speak") and "have the floor" not in said, said
    assert twin.locator("#now .tag.you, #speaker .tag.you").count() == 0, "not the attendee's speech"

    # a question from each: the inbox marks the moderator's own
    twin.fill("#ask-text", "A question from the attendee?")
    twin.click("#ask-submit")
    twin.wait_for_selector("#my-questions li")
    moderator.evaluate("window.__parley.connection.send('question.ask', { text: 'A question from the moderator?' })")
    wait_js(moderator, "document.querySelectorAll('#qa-panel li').length === 2")
    askers = moderator.evaluate(
        "[...document.querySelectorAll('#qa-panel li')].map((li) => [li.querySelector('.q-text').textContent,"
        " Boolean(li.querySelector('.tag.you'))])"
    )
    assert sorted(askers) == [["A question from the attendee?", False], ["A question from the moderator?", True]]
    assert twin.evaluate("window.__parley.store.me.questions.map((q) => q.text)") == ["A question from the attendee?"]

    # then the floor to the attendee: now it is the attendee's page that says so
    moderator.click("#speech-end")
    moderator.wait_for_selector("#speaker .speaker-name .tag.you", state="detached")
    moderator.click("#queue-list li.entry [data-fkey=grant]")
    twin.wait_for_selector("#speaker .speaker-name .tag.you")
    wait_js(twin, "document.querySelector('#floor-mine').textContent.includes('You have the floor')")
    assert f"Twin Number {number}" in moderator.locator("#speaker .speaker-name").inner_text()
    assert moderator.locator("#speaker .tag.you").count() == 0, "not the moderator's speech"
    assert not page_errors.errors, page_errors.errors
