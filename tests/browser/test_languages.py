"""The catalogues load under the pages' Content-Security-Policy, before the first render, and the
browser picks languages as the server does (``server/core/languages.py``)."""

from __future__ import annotations

from typing import Any

from server.core.languages import INTERFACE_LANGUAGES, pick_language, pick_text
from tests.browser.support import SLUG, set_language, wait_js
from tests.test_i18n import CASES, TEXT_CASES, catalogue

# the page's [data-i18n] elements showing their key, or another language's text (the markup's
# English, say) instead of the current one's, as [key, text]; "Loading…" gives way to the data
UNTRANSLATED = """([current, others]) => [...document.querySelectorAll("[data-i18n]")]
  .map((el) => [el.dataset.i18n, el.textContent])
  .filter(([key, text]) => text !== current[key] && (text === key || others.some((o) => o[key] === text)))"""


def untranslated(page: Any, code: str) -> list[list[str]]:
    others = [catalogue(other) for other in INTERFACE_LANGUAGES if other != code]
    found: list[list[str]] = page.evaluate(UNTRANSLATED, [catalogue(code), others])
    return found


def test_the_page_opens_in_the_browsers_language_and_switches(site: Any, browser: Any, page_errors: Any) -> None:
    ctx = browser.new_context(locale="fr-CA")
    page = page_errors.watch(ctx.new_page(), "fr-CA")
    loaded: list[tuple[str, str]] = []

    def seen(response: Any) -> None:
        if "/i18n/" in response.url:
            loaded.append((response.url, response.headers.get("content-type", "")))

    page.on("response", seen)
    page.goto(site.url + f"/events/{SLUG}")
    wait_js(page, "document.querySelector('#programme-days')?.children.length > 0")

    # fr-CA wants French: the first render is French, every static string from the catalogue
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert untranslated(page, "fr") == []
    assert page.title().startswith("Dialogue international"), "the event's French title"
    catalogues = [url.rsplit("/", 1)[1] for url, _ in loaded]
    assert catalogues == ["languages.json", "fr.json"], "only the languages and the current catalogue load"
    assert all(kind.startswith("application/json") for _, kind in loaded)

    set_language(page, "es")
    assert untranslated(page, "es") == []
    assert page.locator("#programme-h").inner_text() == catalogue("es")["programme.heading"]
    page.reload()
    wait_js(page, "document.documentElement.lang === 'es'")
    assert untranslated(page, "es") == []

    # the browser's own copy of the rule, run in Chromium, picks what the server picks
    got = page.evaluate(
        """async ([cases, texts]) => {
          const { pickLanguage, pickText } = await import("/js/languages.js");
          return [cases.map(([w, a]) => pickLanguage(w, a)), texts.map(([t, w]) => pickText(t, w))];
        }""",
        [CASES, TEXT_CASES],
    )
    assert got[0] == [pick_language(wanted, available) for wanted, available in CASES]
    assert [tuple(pair) for pair in got[1]] == [pick_text(texts, wanted) for texts, wanted in TEXT_CASES]
    ctx.close()
    assert not page_errors.errors, page_errors.errors
