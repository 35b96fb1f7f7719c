"""PDF (reportlab): a readable summary for people, not the full tables (the spreadsheets have them).

Key figures, a chart of attendees present per minute for each morning (segments shaded), the
segments, attendance by category and the leading countries, the speakers from the floor and the
questions. ``invariant`` fixes the document's dates and id, so the same report gives the same bytes.
Text is set in DejaVu Sans when the system has it (names from every alphabet the font covers);
otherwise in Helvetica, with the characters it lacks folded to their closest Latin-1 form.
"""

from __future__ import annotations

import io
import math
import unicodedata
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.graphics.shapes import Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from server.services.reports.attendance_tables import ALL
from server.services.reports.cells import summary_text
from server.services.reports.model import MorningTimeline, Report

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/Library/Fonts"),
)
TOP_COUNTRIES = 15
ACCENT = colors.HexColor("#1f5f8b")
BANDS = (colors.HexColor("#eef3f8"), colors.HexColor("#f8f4ea"))


@cache
def fonts() -> tuple[str, str, bool]:
    """(regular, bold, unicode): DejaVu Sans when installed, else Helvetica (Latin-1 only)."""
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdfmetrics.registerFont(TTFont("ParleySans", str(regular)))
            pdfmetrics.registerFont(TTFont("ParleySans-Bold", str(bold)))
            return "ParleySans", "ParleySans-Bold", True
    return "Helvetica", "Helvetica-Bold", False


def printable(text: str) -> str:
    _, _, unicode_font = fonts()
    if unicode_font:
        return text
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            folded = unicodedata.normalize("NFKD", char).encode("cp1252", "ignore").decode("cp1252")
            out.append(folded or "?")
    return "".join(out)


class Styles:
    def __init__(self) -> None:
        regular, bold, _ = fonts()
        self.title = ParagraphStyle("title", fontName=bold, fontSize=16, leading=20, spaceAfter=4, textColor=ACCENT)
        self.subtitle = ParagraphStyle("subtitle", fontName=regular, fontSize=11, leading=14, spaceAfter=8)
        self.heading = ParagraphStyle(
            "heading", fontName=bold, fontSize=12, leading=15, spaceBefore=10, spaceAfter=4, textColor=ACCENT
        )
        self.body = ParagraphStyle("body", fontName=regular, fontSize=8.5, leading=10.5)
        self.cell = ParagraphStyle("cell", fontName=regular, fontSize=7.5, leading=9)
        self.head = ParagraphStyle("head", fontName=bold, fontSize=7.5, leading=9)
        self.note = ParagraphStyle("note", fontName=regular, fontSize=7, leading=9, textColor=colors.grey)


def para(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(printable("" if text is None else str(text))), style)


def grid(header: list[str], rows: list[list[Any]], widths: list[float], styles: Styles) -> Table:
    data = [[para(h, styles.head) for h in header]] + [[para(v, styles.cell) for v in row] for row in rows]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, ACCENT),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f4f6f8")]),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return table


def _nice_ceiling(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** int(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return value


def chart(timeline: MorningTimeline, zone: ZoneInfo, width: float, height: float = 150) -> Drawing:
    """Attendees present per minute as a step line over the morning, segments as shaded bands."""
    regular, _, _ = fonts()
    drawing = Drawing(width, height)
    left, bottom, right, top = 34.0, 22.0, 6.0, 10.0
    plot_w, plot_h = width - left - right, height - bottom - top
    if not timeline.minutes:
        drawing.add(String(left, bottom + plot_h / 2, "Nobody was present.", fontName=regular, fontSize=8))
        return drawing
    start = timeline.minutes[0][0]
    end = max(timeline.end, start + timedelta(minutes=1))
    total = (end - start).total_seconds()
    top_value = _nice_ceiling(max(count for _, count in timeline.minutes))

    def x(instant: datetime) -> float:
        return left + plot_w * min(1.0, max(0.0, (instant - start).total_seconds() / total))

    def y(value: float) -> float:
        return bottom + plot_h * value / top_value

    for index, (key, seg_start, seg_end) in enumerate(timeline.segments):
        drawing.add(
            Rect(x(seg_start), bottom, x(seg_end) - x(seg_start), plot_h, fillColor=BANDS[index % 2], strokeColor=None)  # type: ignore[arg-type]  # types-reportlab: Rect's **kw lacks Unpack[]
        )
        drawing.add(
            String(
                x(seg_start) + 2,
                bottom + plot_h - 8,
                printable(key),
                fontName=regular,
                fontSize=6,
                fillColor=colors.grey,
            )
        )
    for fraction in (0, 0.5, 1):
        value = top_value * fraction
        drawing.add(Line(left, y(value), left + plot_w, y(value), strokeColor=colors.lightgrey, strokeWidth=0.3))
        drawing.add(String(left - 3, y(value) - 2.5, f"{value:g}", fontName=regular, fontSize=6.5, textAnchor="end"))
    tick = start.astimezone(zone).replace(second=0, microsecond=0)
    tick += timedelta(minutes=(30 - tick.minute % 30) % 30)
    while tick <= end:
        drawing.add(Line(x(tick), bottom, x(tick), bottom - 3, strokeColor=colors.black, strokeWidth=0.4))
        drawing.add(String(x(tick), bottom - 11, f"{tick:%H:%M}", fontName=regular, fontSize=6.5, textAnchor="middle"))
        tick += timedelta(minutes=30)
    points: list[float] = []
    for index, (minute, count) in enumerate(timeline.minutes):
        following = timeline.minutes[index + 1][0] if index + 1 < len(timeline.minutes) else end
        points += [x(minute), y(count), x(following), y(count)]
    drawing.add(PolyLine(points, strokeColor=ACCENT, strokeWidth=1.1))
    drawing.add(Line(left, bottom, left + plot_w, bottom, strokeColor=colors.black, strokeWidth=0.5))
    drawing.add(Line(left, bottom, left, bottom + plot_h, strokeColor=colors.black, strokeWidth=0.5))
    return drawing


def _rows(report: Report, table: str, columns: list[str]) -> list[list[Any]]:
    t = report.table(table)
    index = [next(i for i, c in enumerate(t.columns) if c.key == key) for key in columns]
    return [[row[i] for i in index] for row in t.rows]


def _hhmm(value: Any, zone: ZoneInfo) -> str:
    return f"{value.astimezone(zone):%H:%M}" if isinstance(value, datetime) else ""


def write_pdf(report: Report) -> bytes:
    styles = Styles()
    zone = report.zone
    buffer = io.BytesIO()
    width = A4[0] - 30 * mm
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=printable(f"{report.event_title} – {report.scope_label}"),
        author="Parley",
        creator="Parley",
        producer="Parley",
        subject="Attendance report",
        invariant=1,
    )
    story: list[Any] = [
        para(report.event_title, styles.title),
        para(f"Attendance report – {report.scope_label}", styles.subtitle),
    ]
    summary = [
        [label, summary_text(value, zone)] for key, label, value in report.summary if key not in ("event", "scope")
    ]
    story.append(grid(["Figure", "Value"], summary, [width * 0.45, width * 0.55], styles))

    story.append(para("Attendees present per minute", styles.heading))
    for timeline in report.timelines:
        story.append(
            KeepTogether(
                [
                    para(f"Morning of {timeline.day.isoformat()} (local time, {zone})", styles.body),
                    chart(timeline, zone, width),
                ]
            )
        )

    story.append(para("Segments", styles.heading))
    rows = [
        [key, title, _hhmm(start, zone), _hhmm(end, zone), unique, attended, peak, avg, median]
        for key, title, start, end, unique, attended, peak, avg, median in _rows(
            report,
            "segments",
            [
                "segment",
                "title",
                "start_local",
                "end_local",
                "unique_attendees",
                "attended",
                "peak_concurrent",
                "average_minutes",
                "median_minutes",
            ],
        )
    ]
    w = width / 20
    story.append(
        grid(
            ["Segment", "Title", "Start", "End", "Unique", "Attended", "Peak", "Avg min", "Median min"],
            rows,
            [w * 2.4, w * 5.2, w * 1.5, w * 1.5, w * 1.7, w * 2.1, w * 1.4, w * 1.9, w * 2.3],
            styles,
        )
    )

    story.append(para("Attendance by category", styles.heading))
    by_category = [
        r[1:]
        for r in _rows(
            report, "by_category", ["segment", "category", "unique_attendees", "attended", "average_minutes"]
        )
        if r[0] == ALL
    ]
    story.append(
        grid(
            ["Category", "Joined", "Attended", "Avg minutes"],
            by_category,
            [width * 0.4, width * 0.2, width * 0.2, width * 0.2],
            styles,
        )
    )
    by_country = [
        r[1:]
        for r in _rows(report, "by_country", ["segment", "country", "unique_attendees", "attended", "average_minutes"])
        if r[0] == ALL
    ]
    story.append(
        para(f"Leading countries ({min(TOP_COUNTRIES, len(by_country))} of {len(by_country)})", styles.heading)
    )
    story.append(
        grid(
            ["Country", "Joined", "Attended", "Avg minutes"],
            by_country[:TOP_COUNTRIES],
            [width * 0.4, width * 0.2, width * 0.2, width * 0.2],
            styles,
        )
    )

    floor = [
        r
        for r in _rows(
            report,
            "speeches",
            ["source", "started_local", "segment", "speaker", "organisation", "on_behalf_of", "duration"],
        )
        if r[0] == "floor"
    ]
    story.append(para(f"Speakers from the floor ({len(floor)})", styles.heading))
    if floor:
        story.append(
            grid(
                ["Time", "Segment", "Speaker", "Organisation", "On behalf of", "Spoke"],
                [[_hhmm(r[1], zone), *r[2:]] for r in floor],
                [w * 1.6, w * 2.7, w * 4.4, w * 5, w * 4.3, w * 2],
                styles,
            )
        )
    else:
        story.append(para("Nobody spoke from the floor.", styles.body))

    questions = _rows(report, "questions", ["question_id", "segment", "asker", "text", "votes", "status", "answered"])
    story.append(para(f"Questions ({len(questions)})", styles.heading))
    if questions:
        story.append(
            grid(
                ["#", "Segment", "Asked by", "Question", "Votes", "Status"],
                [[q[0], q[1], q[2], q[3], q[4], q[5]] for q in questions],
                [w * 1, w * 2.6, w * 3.4, w * 9.4, w * 1.6, w * 2],
                styles,
            )
        )
    else:
        story.append(para("No question was asked.", styles.body))

    polls = _rows(
        report,
        "polls",
        ["poll_id", "segment", "question", "ballot", "results", "ballots", "option", "votes", "share_pct"],
    )
    opened = sorted({r[0] for r in polls})
    story.append(para(f"Polls ({len(opened)})", styles.heading))
    if polls:
        story.append(
            grid(
                ["#", "Segment", "Question (ballots)", "Option", "Votes", "%"],
                [
                    [r[0], r[1], f"{r[2]} ({r[5]} ballots, {r[3]}, {r[4]})", r[6], r[7], "" if r[8] is None else r[8]]
                    for r in polls
                ],
                [w * 1, w * 2.6, w * 8.2, w * 5, w * 1.6, w * 1.6],
                styles,
            )
        )
        story.append(para("Votes by category of attendee are in the CSV and XLSX versions.", styles.note))
    else:
        story.append(para("No poll was opened.", styles.body))
    statements = _rows(report, "statements", ["segment", "author", "organisation", "on_behalf_of", "language", "text"])
    counts = {key: report.summary_value(f"statements_{key}") for key in ("submitted", "rejected", "pending")}
    story.append(
        para(
            f"Written statements ({len(statements)} approved; {counts['submitted']} submitted, "
            f"{counts['rejected']} rejected, {counts['pending']} awaiting a decision)",
            styles.heading,
        )
    )
    if not statements:
        story.append(para("No written statement was approved.", styles.body))
    for segment, author, organisation, on_behalf_of, language, text in statements:
        delegation = ", ".join(
            part for part in (organisation, f"on behalf of {on_behalf_of}" if on_behalf_of else "") if part
        )
        byline = f"{segment} – {author}" + (f" ({delegation})" if delegation else "") + f" – language: {language}"
        story.append(para(byline, styles.head))
        for paragraph in str(text).split("\n"):  # long statements flow across pages, paragraph by paragraph
            if paragraph.strip():
                story.append(para(paragraph, styles.body))
        story.append(Spacer(1, 4))
    story.append(Spacer(1, 6))
    story.append(
        para(
            "Every attendee, the no-shows, all speeches, the minute-by-minute timeline and each moderation "
            "decision are in the CSV and XLSX versions of this report. It holds personal data: share it "
            "with care.",
            styles.note,
        )
    )

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(fonts()[0], 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(15 * mm, 8 * mm, printable(f"{report.event_title} – {report.scope_label}")[:110])
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, f"page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
