"""Certificates in the browser: an attendee downloads their own certificate from the event page and
opens its verification page, in French, English and Spanish; one without a certificate is told why;
the dashboard shows the organisers the morning's count and the zip. axe-core on each page."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pypdf
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.adapters.clock import SystemClock
from server.adapters.db.engine import make_sync_engine
from server.adapters.db.models import Event, Presence, Registration
from server.services import certificates
from tests.browser.support import SLUG, Audit, demo_link, register, wait_js
from tests.fixtures.parley import STALE_AFTER

CATALOGUES = Path(__file__).resolve().parents[2] / "frontend" / "i18n"
PEOPLE = {"fr": "Aurélie Fabre", "en": "Edward Ng", "es": "Sofía Núñez"}
LOCALES = {"fr": "fr-FR", "en": "en-GB", "es": "es-ES"}


def attend_and_issue(site: Any, names: list[str]) -> None:
    """Each named attendee present for the whole first morning (28 February 2022), then its
    certificates issued as the worker does."""
    engine = make_sync_engine(site.parley.settings())
    with Session(engine) as session, session.begin():
        event = session.execute(select(Event).where(Event.slug == SLUG)).scalar_one()
        day = event.days[0]
        for name in names:
            reg = session.execute(select(Registration).where(Registration.name == name)).scalar_one()
            session.add(
                Presence(
                    event_id=event.id,
                    registration_id=reg.id,
                    connection_id=f"browser-cert-{reg.id}",
                    server_id="t",
                    started_at=day.starts_at,
                    last_seen_at=day.ends_at,
                    ended_at=day.ends_at,
                )
            )
        event_id = event.id
    certificates.issue(
        engine,
        site.parley.data_dir,
        event_id,
        "2022-02-28",
        now=SystemClock().now() + timedelta(seconds=1),
        stale_after=STALE_AFTER,
        threshold=0.5,
        base_url=site.url,
    )
    engine.dispose()


def test_attendees_download_their_certificate_and_verify_it_in_each_language(
    site: Any, browser: Any, screenshots: Any, page_errors: Any, tmp_path: Path
) -> None:
    audit = Audit(screenshots)
    links = {lang: register(site, name, organisation="Délégation", language=lang) for lang, name in PEOPLE.items()}
    latecomer = register(site, "Late Comer")
    attend_and_issue(site, list(PEOPLE.values()))

    for lang, name in PEOPLE.items():
        words = json.loads((CATALOGUES / f"{lang}.json").read_text())
        ctx = browser.new_context(locale=LOCALES[lang], accept_downloads=True)
        ctx.set_default_timeout(15000)
        page = page_errors.watch(ctx.new_page(), f"certificate-{lang}")
        page.goto(site.url + links[lang])
        page.click("#join-button")
        page.wait_for_url(f"**/events/{SLUG}")
        link = page.locator("#certificates a[download]")
        link.wait_for()
        assert page.evaluate("document.documentElement.lang") == lang
        assert page.locator("#cert-h").inner_text() == words["cert.heading"]
        with page.expect_download() as caught:
            link.press("Enter")  # by keyboard
        saved = tmp_path / f"{lang}.pdf"
        caught.value.save_as(saved)
        reader = pypdf.PdfReader(io.BytesIO(saved.read_bytes()))
        assert len(reader.pages) == 1
        text = " ".join(reader.pages[0].extract_text().split())
        assert name in text
        assert {
            "fr": "Certificat de participation",
            "en": "Certificate of attendance",
            "es": "Certificado de asistencia",
        }[lang] in text
        if lang == "en":
            audit.page(page.locator("#certificates").page, "event-certificates", languages=("en",))

        page.locator("#certificates a[href^='/verify/']").click()
        page.wait_for_url("**/verify/*")
        wait_js(page, "document.querySelector('#verdict')")
        assert page.locator("#verdict").inner_text() == words["verify.genuine"]
        facts = page.locator("#verify-result dl").inner_text()
        assert name in facts and "Délégation" in facts and "@" not in facts
        audit.page(page, f"verify-genuine-{lang}", languages=(lang,), axe=lang == "en")
        # a typed code with one character changed: not genuine, said in the page's language
        code = page.input_value("#verify-code")
        page.fill("#verify-code", code[:-1] + ("A" if code[-1] != "A" else "B"))
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/verify/*{('A' if code[-1] != 'A' else 'B')}")
        wait_js(page, "document.querySelector('#verdict.not-genuine')")
        assert page.locator("#verdict").inner_text() == words["verify.not_genuine"]
        audit.page(page, f"verify-{lang}", languages=(lang,), axe=lang == "en")
        ctx.close()

    ctx = browser.new_context(locale="en-GB")
    page = page_errors.watch(ctx.new_page(), "no-certificate")
    page.goto(site.url + latecomer)
    page.click("#join-button")
    page.wait_for_url(f"**/events/{SLUG}")
    page.wait_for_selector("#cert-none")
    assert "no certificate yet" in page.locator("#cert-none").inner_text()
    ctx.close()

    ctx = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    org = page_errors.watch(ctx.new_page(), "organiser-certificates")
    org.goto(site.url + demo_link(site, "organiser"))
    org.click("#signin-button")
    org.wait_for_url(f"**/organise/{SLUG}")
    org.wait_for_selector("#cert-zip")
    assert "3 certificates" in org.locator("#certificates").inner_text()
    assert "Download all 3 certificates (zip)" in org.locator("#cert-zip").inner_text()
    audit.axe(org, "organiser-certificates")
    ctx.close()
    assert not audit.violations, "\n".join(audit.violations)
