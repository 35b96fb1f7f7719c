"""The organiser's dashboard on a 1280x800 screen: the registrations' actions and the reminders' failed
column in view with no horizontal scroll; a delegation list uploaded, previewed with its problems and
registered, in English, French and Spanish; the registrations a page of 50 at a time, turned by
keyboard; and each row a card of its own on a narrow screen."""

from __future__ import annotations

import io
import json
from typing import Any

from openpyxl import Workbook

from tests.browser.support import SLUG, Audit, demo_link, set_language, wait_js, wait_live

SCREEN = {"width": 1280, "height": 800}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def english_list() -> bytes:
    """60 people and two rows with problems: enough for a second page of registrations."""
    lines = ["name,email,organisation,category,country,language"]
    lines += [f"Delegate {i:02},delegate{i:02}@example.org,Mission {i},member_state,Country {i},en" for i in range(60)]
    # a long address and organisation must not push the actions out of view
    lines[1] = (
        "Delegate 00,permanent.mission.delegate00@"
        "ministry-of-foreign-affairs-and-international-cooperation.example.org,"
        "Permanent Mission of the Plurinational State to the United Nations Office at Geneva,intergovernmental,"
        "Bolivia (Plurinational State of),es"
    )
    lines += ["No Email,,Mission X,media,,en", "Twice,delegate07@example.org,,academia,,fr"]
    return ("\r\n".join(lines) + "\r\n").encode()


def french_list() -> bytes:
    return "\ufeffNom;Courriel;Catégorie;Langue\r\nZoé Leroy;zoe@example.org;Société civile;français\r\n".encode()


def spanish_list() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Nombre", "Correo electrónico", "Categoría", "Idioma"])
    sheet.append(["Iñigo Sanz", "inigo@example.org", "Medios", "español"])
    sheet.append(["Sin Categoría", "sin@example.org", "", "es"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def text(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text())


def upload(page: Any, name: str, mime: str, data: bytes) -> None:
    page.set_input_files("#import-file", files=[{"name": name, "mimeType": mime, "buffer": data}])
    with page.expect_response("**/registrations/import/preview") as answer:
        page.click("#import-preview")
    assert answer.value.status == 200, answer.value.text()
    page.wait_for_selector("#import-table-wrap:not([hidden])")


def commit(page: Any) -> None:
    with page.expect_response("**/registrations/import?sha256=*") as answer:
        page.click("#import-commit")
    assert answer.value.status == 200, answer.value.text()
    wait_js(page, "document.querySelector('#import-outcome').className === 'success'")


def in_view_without_scrolling(page: Any, cell: str) -> bool:
    """``cell`` lies inside the viewport, its table is not cut off by its scrolling region, and the page
    itself does not scroll sideways."""
    return bool(
        page.evaluate(
            """(selector) => {
                const cell = document.querySelector(selector);
                const wrap = cell.closest('.table-wrap');
                const box = cell.getBoundingClientRect();
                return box.width > 0 && box.left >= 0 && box.right <= document.documentElement.clientWidth
                    && wrap.scrollWidth <= wrap.clientWidth
                    && document.documentElement.scrollWidth <= document.documentElement.clientWidth;
            }""",
            cell,
        )
    )


def test_the_dashboard_fits_1280_pages_long_tables_and_imports_a_list_in_three_languages(
    site: Any, browser: Any, screenshots: Any, page_errors: Any
) -> None:
    audit = Audit(screenshots)
    ctx = browser.new_context(locale="en-GB", viewport=SCREEN)
    ctx.set_default_timeout(15000)
    page = page_errors.watch(ctx.new_page(), "organiser")
    page.goto(site.url + demo_link(site, "organiser"))
    page.click("#signin-button")
    page.wait_for_url(f"**/organise/{SLUG}")
    wait_live(page)
    page.wait_for_selector("#reminders-body tbody tr")

    # English: 62 rows, two with problems, named by line and column; the rest registered at once
    upload(page, "delegations.csv", "text/csv", english_list())
    summary = "document.querySelector('#import-summary').textContent"
    wait_js(page, f"{summary}.includes('62 rows: 60 ready, 2 with problems')")
    assert page.locator("#import-table tbody tr").count() == 50, "the preview shows a page of 50"
    page.check("#import-only-problems")
    problems = page.locator("#import-table tbody tr")
    assert problems.count() == 2
    assert "Column B (Email): email missing" in problems.nth(0).inner_text()
    assert "Column B (Email): the same email as line 9" in problems.nth(1).inner_text()
    assert problems.nth(0).locator("th").inner_text() == "62"  # the line as the spreadsheet shows it
    wait_js(page, "document.querySelector('#announcer').textContent.includes('2 with problems')")
    audit.axe(page, "organise-import-preview")
    assert page.locator("#import-commit").inner_text() == "Register 60 people"
    commit(page)
    assert "60 people registered" in text(page, "#import-outcome")
    assert "2 rows with problems were skipped" in text(page, "#import-outcome")
    skipped = page.locator("#import-table tbody tr")  # what is left to fix, with its problems
    assert skipped.count() == 2 and "email missing" in skipped.nth(0).inner_text()
    assert page.locator("#import-commit").is_hidden()
    wait_js(page, "document.querySelector('#reg-count').textContent === '60 registrations'")

    # 1280 px: every column of both tables in view, nothing scrolls sideways
    assert in_view_without_scrolling(page, "#reg-table thead th:last-child"), "the actions column"
    assert in_view_without_scrolling(page, "#reg-table tbody tr:first-child td:last-child button")
    failed = page.evaluate(
        "[...document.querySelectorAll('#rem-table thead th')].findIndex((th) => th.textContent === 'Failed') + 1"
    )
    assert failed > 0
    assert in_view_without_scrolling(page, f"#rem-table thead th:nth-child({failed})"), "the failed column"
    assert in_view_without_scrolling(page, f"#rem-table tbody tr:first-child td:nth-child({failed})")
    audit.shot(page, "organise-1280.en")

    # the registrations a page at a time, by keyboard
    assert page.locator("#reg-table tbody tr").count() == 50
    assert "Page 1 of 2 · rows 1–50 of 60" in text(page, "#reg-pager")
    page.focus("#reg-pager [data-fkey=next]")
    page.keyboard.press("Enter")
    wait_js(page, "document.querySelectorAll('#reg-table tbody tr').length === 10")
    assert "Page 2 of 2 · rows 51–60 of 60" in text(page, "#reg-pager")
    assert "Delegate 59" in text(page, "#reg-table tbody")
    assert page.evaluate("document.activeElement.dataset.fkey") == "previous", "the focus stays in the pager"
    wait_js(page, "document.querySelector('#announcer').textContent.includes('Page 2 of 2')")
    page.keyboard.press("Enter")
    wait_js(page, "document.querySelectorAll('#reg-table tbody tr').length === 50")
    assert page.evaluate("document.activeElement.dataset.fkey") == "next"

    # French: a semicolon CSV with a byte-order mark, as Excel writes it in France
    set_language(page, "fr")
    assert "Page 1 sur 2" in text(page, "#reg-pager")
    upload(page, "délégation.csv", "text/csv", french_list())
    wait_js(page, f"{summary}.includes('1 ligne — prête : 1 ; à corriger : 0')")
    assert page.locator("#import-table tbody tr").inner_text().count("Société civile") == 1
    assert page.locator("#import-commit").inner_text() == "Inscrire 1 personne"
    commit(page)
    assert "1 personne inscrite" in text(page, "#import-outcome")
    assert page.locator("#import-table-wrap").is_hidden(), "nothing was skipped"
    wait_js(page, "document.querySelector('#reg-count').textContent === '61 inscriptions'")

    # Spanish: an XLSX with a row missing its category
    set_language(page, "es")
    upload(page, "delegación.xlsx", XLSX, spanish_list())
    wait_js(page, f"{summary}.includes('2 filas — listas: 1; con problemas: 1')")
    assert "Columna C (Categoría): falta la categoría" in text(page, "#import-table tbody")
    audit.page(page, "organise-import-preview", languages=("es",), axe=False)
    commit(page)
    assert "1 persona inscrita" in text(page, "#import-outcome")
    assert "1 fila con problemas no se inscribió" in text(page, "#import-outcome")
    wait_js(page, "document.querySelector('#reg-count').textContent.startsWith('62')")
    assert in_view_without_scrolling(page, "#reg-table thead th:last-child"), "the actions column, in Spanish"
    assert in_view_without_scrolling(page, f"#rem-table thead th:nth-child({failed})"), "the failed column, in Spanish"

    # a file that is not a list: said, with the server's reason
    notes = {"name": "notes.csv", "mimeType": "text/csv", "buffer": b"Nombre,Notas\nAna,hola\n"}
    page.set_input_files("#import-file", files=[notes])
    page.click("#import-preview")
    wait_js(page, "document.querySelector('#import-summary').className === 'error'")
    assert "Falta una columna obligatoria" in text(page, "#import-summary")
    wait_js(page, f"document.querySelector('#alerts').textContent.includes({json.dumps('Falta una columna')})")

    # narrow: each registration a card, the page still does not scroll sideways
    page.set_viewport_size({"width": 400, "height": 800})
    wait_js(page, "getComputedStyle(document.querySelector('#reg-table tbody tr')).display === 'block'")
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    label = page.evaluate("getComputedStyle(document.querySelector('#reg-table tbody td'), '::before').content")
    assert "Correo" in label, label
    audit.axe(page, "organise-narrow")
    assert not page_errors.errors, page_errors.errors
    assert not audit.violations, "\n".join(audit.violations)
