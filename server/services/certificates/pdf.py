"""One certificate as a one-page PDF (reportlab, A4 landscape), in the attendee's language.

Drawn straight on a canvas (no flowables: one page by construction, and about a millisecond each, which
matters for a zip of tens of thousands). Long names and titles shrink to fit their line. A certificate
whose texts are all Latin-1 (Windows-1252) is set in the viewer's own Helvetica, nothing embedded
(about 2 KiB); any other is set in the reports' DejaVu Sans, embedded (about 45 KiB; Helvetica with
folded characters when DejaVu is not installed). ``invariant`` fixes the document's dates and id, so
the same certificate always gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from server.services.certificates.codes import display
from server.services.certificates.labels import dates_text, day_text, number_text, percent_text, words
from server.services.certificates.model import Printed
from server.services.reports.pdf import fonts
from server.services.reports.pdf import printable as printable_text

PAGE = landscape(A4)
ACCENT = colors.HexColor("#1f5f8b")
MARGIN = 18 * mm


def _fitted(canvas: Canvas, text: str, font: str, size: float, y: float, *, smallest: float = 9) -> None:
    """``text`` centred on the line at ``y``, its size reduced (down to ``smallest``) until it fits."""
    width = PAGE[0] - 2 * MARGIN - 20 * mm
    while size > smallest and stringWidth(text, font, size) > width:
        size -= 0.5
    while len(text) > 1 and stringWidth(text, font, size) > width:  # still too long at the smallest size
        text = text[:-2] + "…"
    canvas.setFont(font, size)
    canvas.drawCentredString(PAGE[0] / 2, y, text)


def _latin1(*texts: str) -> bool:
    try:
        for text in texts:
            text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def render(certificate: Printed, verify_url: str) -> bytes:
    """The PDF of ``certificate``; ``verify_url`` is printed under the code."""
    c = certificate
    printable: Callable[[str], str] = printable_text
    if _latin1(c.name, c.organisation, c.event_title, verify_url):
        # the PDF viewer's own Helvetica: nothing embedded, a twentieth of the size
        regular, bold, printable = "Helvetica", "Helvetica-Bold", str
    else:
        regular, bold, _ = fonts()
    w = words(certificate.language)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE, invariant=1, pageCompression=1)
    canvas.setTitle(printable(f"{w.title} – {certificate.name}"))
    canvas.setAuthor("Parley")
    canvas.setCreator("Parley")
    canvas.setProducer("Parley")
    canvas.setSubject(printable(certificate.event_title))

    width, height = PAGE
    canvas.setStrokeColor(ACCENT)
    canvas.setLineWidth(2.5)
    canvas.rect(MARGIN / 2, MARGIN / 2, width - MARGIN, height - MARGIN)
    canvas.setLineWidth(0.6)
    canvas.rect(MARGIN / 2 + 4, MARGIN / 2 + 4, width - MARGIN - 8, height - MARGIN - 8)

    canvas.setFillColor(ACCENT)
    _fitted(canvas, printable(w.title), bold, 30, height - 48 * mm)
    canvas.setFillColor(colors.black)
    _fitted(canvas, printable(w.certify), regular, 14, height - 66 * mm)
    _fitted(canvas, printable(certificate.name), bold, 26, height - 82 * mm)
    if certificate.organisation:
        _fitted(canvas, printable(certificate.organisation), regular, 15, height - 92 * mm)
    if certificate.morning:
        line = w.morning.format(date=day_text(certificate.first_day, certificate.language))
    else:
        line = w.event.format(dates=dates_text(certificate.first_day, certificate.last_day, certificate.language))
    _fitted(canvas, printable(line), regular, 14, height - 108 * mm)
    canvas.setFillColor(ACCENT)
    _fitted(canvas, printable(certificate.event_title), bold, 18, height - 120 * mm)
    canvas.setFillColor(colors.black)
    minutes = w.minutes.format(
        minutes=number_text(certificate.minutes, certificate.language),
        threshold=percent_text(certificate.threshold, certificate.language),
    )
    _fitted(canvas, printable(minutes), regular, 13, height - 136 * mm)

    canvas.setFillColor(colors.HexColor("#333333"))
    _fitted(canvas, printable(w.code.format(code=display(certificate.code))), bold, 12, 32 * mm)
    _fitted(canvas, printable(f"{w.check} {verify_url}"), regular, 10, 25 * mm, smallest=6)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
