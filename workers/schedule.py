"""Celery beat's schedule: scans every minute, never far-future `eta` tasks.

A reminder is not a task waiting in the broker for a day: each minute a scan looks in the database
for what has come due, so a schedule edit, a moved morning or a lost broker never leaves a stale or
missing reminder behind. Scans are idempotent, so two beats (or a beat restarted mid-minute) are
harmless. `expires` drops a scan that waited in the queue past its minute (a worker outage), so an
outage does not end in a pile of identical scans: the next minute's scan does the same work.
"""

from __future__ import annotations

from datetime import timedelta
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


# the fewest real seconds between two scans on a fast clock: a scan costs the worker a few tenths
# of a second, which a burst of reminder sends needs more
FASTEST_SCAN_S = {"reminders-scan": 1.0, "reports-scan-due": 5.0}


def beat_schedule(speed: float = 1.0) -> dict[str, dict[str, Any]]:
    """The schedule for a clock running ``speed`` times faster than real time (a rehearsal): each
    scan every virtual minute, but the reminders' never more often than once a real second and the
    reports' once every five, so at 120x the reminders are scanned every 2 virtual minutes. A
    reminder still goes out before its morning; it may go out up to that interval after its due
    time. Beat itself keeps real time: its intervals are real seconds."""
    if speed <= 1:
        return BEAT_SCHEDULE
    schedule = {}
    for name, entry in BEAT_SCHEDULE.items():
        every = max(FASTEST_SCAN_S.get(name, 1.0), 60.0 / speed)
        schedule[name] = {**entry, "schedule": timedelta(seconds=every), "options": {"expires": every * 55 / 60}}
    return schedule
