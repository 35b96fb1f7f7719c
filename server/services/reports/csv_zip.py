"""CSV: one file per table (and ``summary.csv``) in a zip. UTF-8 with a BOM so that Excel reads
accents right; instants in ISO 8601 (local with its offset, UTC with ``Z``)."""

from __future__ import annotations

import csv
import io

from server.services.reports.cells import deterministic_zip, neutralise, summary_text, text_of
from server.services.reports.model import Report


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_csv_zip(report: Report) -> bytes:
    entries = [
        (
            "summary.csv",
            _csv(
                [["key", "label", "value"]]
                + [[k, neutralise(label), summary_text(v, report.zone)] for k, label, v in report.summary]
            ),
        )
    ]
    for table in report.tables:
        rows = [[c.key for c in table.columns]]
        kinds = [c.kind for c in table.columns]
        rows += [
            [text_of(value, kind, report.zone) for value, kind in zip(row, kinds, strict=True)] for row in table.rows
        ]
        entries.append((f"{table.name}.csv", _csv(rows)))
    return deterministic_zip(entries)
