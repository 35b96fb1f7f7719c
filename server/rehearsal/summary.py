"""The one-page summary of a rehearsal: printed, and written as JSON and as a small HTML page with a
chart of the people present per minute (the truth's bracket and the report's figure)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from server.rehearsal.checks import MAX_FAILURES_KEPT, MAX_FAILURES_SHOWN


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


def text_summary(summary: dict[str, Any]) -> str:
    figures = summary["figures"]
    lines = [
        f"rehearsal of {summary['source']} as {summary['slug']} ({summary['mode']}, {summary['speed']:g}x, "
        f"{summary['attendees']} attendees, {summary['mornings']} morning(s), seed {summary['seed']})",
        f"  virtual {summary['virtual_from']} → {summary['virtual_to']}, {summary['real_seconds']:.0f} s real",
    ]
    for key, value in figures.items():
        lines.append(f"  {key.replace('_', ' ')}: {value if not isinstance(value, dict) else json.dumps(value)}")
    for check in summary["checks"]:
        mark = "ok  " if check["passed"] else "FAIL"
        lines.append(f"{mark} {check['name']}: {json.dumps(check['figures'], ensure_ascii=False)}")
        shown = check["failures"][:MAX_FAILURES_SHOWN]
        lines += [f"       - {failure}" for failure in shown]
        if check["failure_count"] > len(shown):
            more = check["failure_count"] - len(shown)
            lines.append(f"       … {more} more (summary.json keeps the first {MAX_FAILURES_KEPT})")
    lines.append("every check held" if summary["passed"] else "some checks failed")
    return "\n".join(lines)


WIDTH, HEIGHT, PAD = 720, 220, 30


def _chart(series: dict[str, list[tuple[str, int, int, int | None]]]) -> str:
    """One SVG per morning: minute → (truth at least, truth at most, report)."""
    parts = []
    for day, points in series.items():
        if not points:
            continue
        top = max(max(p[2] for p in points), max((p[3] or 0) for p in points), 1)
        step = (WIDTH - 2 * PAD) / max(1, len(points) - 1)

        def y(value: float, top: int = top) -> float:
            return HEIGHT - PAD - value / top * (HEIGHT - 2 * PAD)

        band_top = " ".join(f"{PAD + i * step:.1f},{y(p[2]):.1f}" for i, p in enumerate(points))
        band_bottom = " ".join(f"{PAD + i * step:.1f},{y(p[1]):.1f}" for i, p in reversed(list(enumerate(points))))
        report = " ".join(f"{PAD + i * step:.1f},{y(p[3]):.1f}" for i, p in enumerate(points) if p[3] is not None)
        parts.append(
            f'<figure><svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
            f'aria-label="People present per minute on {day}">'
            f'<line x1="{PAD}" y1="{y(0):.1f}" x2="{WIDTH - PAD}" y2="{y(0):.1f}" stroke="#767676"/>'
            f'<polygon points="{band_top} {band_bottom}" fill="#9ecae1" stroke="none"/>'
            f'<polyline points="{report}" fill="none" stroke="#08519c" stroke-width="1.5"/>'
            f'<text x="{PAD}" y="{PAD - 10}" font-size="12">{top} people</text>'
            f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="12">{html.escape(points[0][0])}</text>'
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="12" text-anchor="end">'
            f"{html.escape(points[-1][0])}</text>"
            f"</svg><figcaption>{html.escape(day)}: people present per minute. Band: the truth (at least / at most);"
            f" line: the compiled report.</figcaption></figure>"
        )
    return "\n".join(parts)


def _cell(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)


def html_summary(summary: dict[str, Any], series: dict[str, list[tuple[str, int, int, int | None]]]) -> str:
    rows = "".join(
        f"<tr><th scope=row>{html.escape(k.replace('_', ' '))}</th><td>{html.escape(_cell(v))}</td></tr>"
        for k, v in summary["figures"].items()
    )
    checks = "".join(
        f"<li><strong>{'held' if c['passed'] else 'FAILED'}</strong> {html.escape(c['name'])}"
        f"<br><small>{html.escape(json.dumps(c['figures'], ensure_ascii=False))}</small>"
        + ("<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in c["failures"]) + "</ul>" if c["failures"] else "")
        + "</li>"
        for c in summary["checks"]
    )
    verdict = "Every check held." if summary["passed"] else "Some checks failed."
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rehearsal {html.escape(summary["slug"])}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}
th,td{{text-align:left;padding:.2rem .6rem;border-bottom:1px solid #ddd}}</style></head>
<body><h1>Rehearsal of {html.escape(summary["source"])}</h1>
<p>{html.escape(summary["mode"])}, {summary["speed"]:g}× real time, {summary["attendees"]} simulated attendees,
{summary["mornings"]} morning(s), seed {summary["seed"]}; virtual time {html.escape(summary["virtual_from"])} to
{html.escape(summary["virtual_to"])}, {summary["real_seconds"]:.0f} s real.</p>
<p role="status"><strong>{verdict}</strong></p>
<h2>Figures</h2><table>{rows}</table>
<h2>Attendance</h2>{_chart(series)}
<h2>Checks</h2><ul>{checks}</ul>
</body></html>
"""


def write_summary(
    folder: Path, summary: dict[str, Any], series: dict[str, list[tuple[str, int, int, int | None]]]
) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    as_json = folder / "summary.json"
    as_html = folder / "summary.html"
    as_json.write_text(
        json.dumps({**summary, "attendance_per_minute": series}, indent=2, ensure_ascii=False, default=str)
    )
    as_html.write_text(html_summary(summary, series))
    return as_json, as_html
