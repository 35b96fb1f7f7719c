"""Attendance reports for organisers: who attended each morning, the segments, the timeline, the
no-shows, the speakers from the floor and the Q&A, as CSV (zipped), XLSX and PDF files.

``gather`` reads the database into plain data, ``windows`` says when the mornings ran,
``attendance_tables`` / ``session_tables`` / ``figures`` compute the tables, ``csv_zip`` / ``xlsx``
/ ``pdf`` write them, ``store`` keeps the files, ``service`` ties it together (docs/reports.md).
"""

from server.services.reports.model import DEFAULT_THRESHOLD, EVENT_SCOPE, FORMATS, MEDIA_TYPES, Report
from server.services.reports.service import (
    Compiled,
    UnknownScope,
    build,
    compile_report,
    day_timeline,
    due_scopes,
    read_day,
    scan_due,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "EVENT_SCOPE",
    "FORMATS",
    "MEDIA_TYPES",
    "Compiled",
    "Report",
    "UnknownScope",
    "build",
    "compile_report",
    "day_timeline",
    "due_scopes",
    "read_day",
    "scan_due",
]
