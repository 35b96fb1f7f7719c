"""Celery beat's schedule: scans every minute, never far-future `eta` tasks.

A reminder is not a task waiting in the broker for a day: each minute a scan looks in the database
for what has come due, so a schedule edit, a moved morning or a lost broker never leaves a stale or
missing reminder behind. Scans are idempotent, so two beats (or a beat restarted mid-minute) are
harmless. `expires` drops a scan that waited in the queue past its minute (a worker outage), so an
outage does not end in a pile of identical scans: the next minute's scan does the same work.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

EVERY_MINUTE = crontab()

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "reminders-scan": {
        "task": "parley.reminders.scan",
        "schedule": EVERY_MINUTE,
        "options": {"expires": 55},
    },
    # implemented in workers/tasks/reports.py: compiles the reports of mornings that have ended
    "reports-scan-due": {
        "task": "parley.reports.scan_due",
        "schedule": EVERY_MINUTE,
        "options": {"expires": 55},
    },
    # implemented in workers/tasks/certificates.py: issues the certificates of mornings that have ended
    "certificates-scan-due": {
        "task": "parley.certificates.scan_due",
        "schedule": EVERY_MINUTE,
        "options": {"expires": 55},
    },
}
