"""A poll played in the browser, in each interface language: the moderator prepares and opens it on
the console, an attendee votes with the keyboard and changes their vote, the moderator publishes
the results and the attendee sees them live; each step announced to screen readers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import SLUG, Audit, register, wait_js, wait_live

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long enough password"
LOCALES = {"en": "en-GB", "fr": "fr-FR", "es": "es-ES"}
QUESTIONS = {
    "en": "Should the dialogue meet twice a year?",
    "fr": "Le dialogue doit-il se réunir deux fois par an ?",
    "es": "¿Debe el diálogo reunirse dos veces al año?",
}
OPTIONS = {"en": ["Yes", "No"], "fr": ["Oui", "Non"], "es": ["Sí", "No"]}


def quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def catalogue(lang: str) -> dict[str, str]:
    return dict(json.loads((ROOT / "frontend" / "i18n" / f"{lang}.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def moderator_email(site: Any) -> str:
    email = "pollster@example.org"
    added = site.parley.cli(
        "users", "add", "--role", "moderator", "--event", SLUG, "--email", email, "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return email


def announced(page: Any, text: str) -> None:
    wait_js(page, f"document.querySelector('#announcer').textContent.includes({quoted(text)})")


@pytest.mark.parametrize("lang", ["fr", "en", "es"])
def test_a_poll_is_prepared_opened_voted_and_published(
    lang: str, site: Any, browser: Any, screenshots: Any, page_errors: Any, moderator_email: str
) -> None:
    texts, question, options = catalogue(lang), QUESTIONS[lang], OPTIONS[lang]
    audit = Audit(screenshots)
    mod_ctx = browser.new_context(locale=LOCALES[lang], viewport={"width": 1280, "height": 1000})
    mod_ctx.set_default_timeout(15000)
    mod = page_errors.watch(mod_ctx.new_page(), f"moderator-{lang}")
    mod.goto(site.url + "/login")
    mod.fill("#login-email", moderator_email)
    mod.fill("#login-password", PASSWORD)
    mod.keyboard.press("Enter")
    mod.wait_for_url(f"**/moderate/{SLUG}")
    wait_live(mod)
    assert mod.evaluate("document.documentElement.lang") == lang
    if mod.evaluate("window.__parley.store.public.stage.live_segment_id") is None:
        mod.locator("#segment-list [data-fkey=open]").first.click()
        mod.wait_for_selector("#live-segment .status-live")

    # the moderator prepares the poll: staff only until opened
    mod.fill("#poll-question", question)
    mod.fill("#poll-options", "\n".join(options))
    mod.focus("#poll-anonymous")
    mod.keyboard.press("Tab")
    mod.keyboard.press("Tab")
    assert mod.evaluate("document.activeElement.type") == "submit"
    mod.keyboard.press("Enter")
    draft = mod.locator(f"#poll-drafts li:has-text({quoted(question)})")
    draft.wait_for()
    poll_id = mod.evaluate(f"window.__parley.store.staff.draft_polls.find((p) => p.question === {quoted(question)}).id")

    # an attendee on the event page: no poll open yet (at most an earlier one, closed)
    att_ctx = browser.new_context(locale=LOCALES[lang], viewport={"width": 1000, "height": 1000})
    att_ctx.set_default_timeout(15000)
    att = page_errors.watch(att_ctx.new_page(), f"attendee-{lang}")
    att.goto(site.url + register(site, f"Voter {lang.upper()}", category="civil_society"))
    att.click("#join-button")
    att.wait_for_url(f"**/events/{SLUG}")
    wait_live(att)
    assert att.locator("#poll-submit").count() == 0

    # opened: the attendee hears it and sees the question as a fieldset's legend
    draft.locator("[data-fkey=open]").click()
    announced(att, texts["say.poll_opened"].replace("{question}", question))
    att.wait_for_selector("#poll:not([hidden])")
    assert att.locator("#poll-form fieldset legend").inner_text() == question
    assert att.locator("#poll-form input[type=radio]").count() == 2
    assert texts["poll.results_later"] in att.locator("#poll-results").inner_text()

    # voting by keyboard: the second option, then a change of mind to the first
    att.focus("#poll-form input[value='1']")
    att.keyboard.press("ArrowDown")
    assert att.evaluate("document.activeElement.value") == "2"
    att.keyboard.press("Tab")
    assert att.evaluate("document.activeElement.id") == "poll-submit"
    att.keyboard.press("Enter")
    wait_js(att, f"JSON.stringify(window.__parley.store.me.ballots['{poll_id}']) === '[2]'")
    announced(att, texts["poll.vote_recorded"].replace("{options}", options[1]))
    att.wait_for_selector(f"#poll-submit:has-text({quoted(texts['poll.change_vote'])})")
    wait_js(att, "document.activeElement.id === 'poll-submit'")  # the keyboard stays on the form
    att.focus("#poll-form input[value='2']")
    att.keyboard.press("ArrowUp")
    att.keyboard.press("Tab")
    att.keyboard.press("Enter")
    wait_js(att, f"JSON.stringify(window.__parley.store.me.ballots['{poll_id}']) === '[1]'")
    att.wait_for_selector(f"#poll-mine:has-text({quoted(options[0])})")

    # the staff follow the tally; the public does not see it before it is published
    wait_js(mod, f"(window.__parley.store.staff.poll_tallies['{poll_id}'] || {{}}).counts?.['1'] === 1")
    assert mod.evaluate(f"window.__parley.store.staff.poll_tallies['{poll_id}'].ballots") == 1
    assert att.evaluate(f"window.__parley.store.public.polls.find((p) => p.id === {poll_id}).results") is None
    if lang == "fr":  # the form once; the results page in every language below
        audit.axe(att, f"poll-voted.{lang}")

    # published: the attendee hears it and reads the counts
    opened = mod.locator(f"#poll-opened li.poll-item:has-text({quoted(question)})")
    opened.locator("[data-fkey=publish]").click()
    announced(att, texts["say.poll_results"].replace("{question}", question))
    results = att.locator("#poll-results .poll-results li")
    results.first.wait_for()
    first_line = results.first.inner_text()
    assert options[0] in first_line and "100" in first_line, first_line
    assert texts["poll.ballots.one"].replace("{n}", "1") in att.locator("#poll-results").inner_text()
    audit.shot(att, f"poll-results.{lang}")
    audit.axe(att, f"poll-results.{lang}")
    audit.axe(mod, f"moderate-polls.{lang}")
    audit.shot(mod, f"moderate-polls.{lang}")

    # closed: no more voting (and the next language's poll may open)
    opened.locator("[data-fkey=close]").click()
    att.wait_for_selector("#poll-form fieldset[disabled]")
    assert att.locator("#poll-submit").count() == 0
    for ctx in (mod_ctx, att_ctx):
        ctx.close()
    assert not page_errors.errors, page_errors.errors
    assert not audit.violations, "\n".join(audit.violations)
