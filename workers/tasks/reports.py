"""Report tasks: thin wrappers over ``server.services.reports`` (primitive kwargs, idempotent).

- ``parley.reports.compile(event_id, scope)``: compile one morning (``YYYY-MM-DD``) or the whole
  event (``event``) in every format, as of now. Compiling again with nothing new writes the same
  bytes, so a task delivered twice (or retried after a killed worker) does no harm.
- ``parley.reports.scan_due()``: run by beat every minute; compiles each morning once it is over (by
  the clock, or when the moderator ended its last segment), and the whole event once every morning
  is; a report already compiled complete is not compiled again.

``now`` (ISO 8601 with offset) stands in for the wall clock when given, as in the reminder tasks;
``threshold`` (0..1) overrides ``PARLEY_REPORT_ATTENDANCE_THRESHOLD`` for one compilation.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task

from config.settings import Settings
from server.services import reports
from server.services.attendance import presence_stale_after
from workers.celery_app import worker_resources

log = logging.getLogger("parley.reports")


def stale_after(settings: Settings) -> timedelta:
    """When an open presence row is a crashed server's: the live runtime's rule for these settings
    (real seconds, scaled to the clock's speed in a rehearsal)."""
    real = presence_stale_after(heartbeat_s=settings.heartbeat_s, idle_timeout_s=settings.idle_timeout_s)
    return real * settings.virtual_speed


@shared_task(name="parley.reports.compile", bind=True)
def compile_report(
    self: Any, event_id: int, scope: str, now: str | None = None, threshold: float | None = None
) -> dict[str, Any]:
    resources = worker_resources(self.app)
    settings = resources.settings
    try:
        done = reports.compile_report(
            resources.engine,
            settings.data_dir,
            int(event_id),
            str(scope),
            now=resources.now(now),
            stale_after=stale_after(settings),
            threshold=settings.report_attendance_threshold if threshold is None else float(threshold),
        )
    except LookupError as exc:  # no such event or morning: a bad request, not retried
        log.warning("report %s of event %s not compiled: %s", scope, event_id, exc)
        return {"event_id": event_id, "scope": scope, "error": str(exc)}
    log.info("compiled report %s/%s (complete: %s)", done.slug, scope, done.complete)
    return done.as_json()


@shared_task(name="parley.reports.scan_due", bind=True)
def scan_due(self: Any, now: str | None = None) -> list[dict[str, Any]]:
    resources = worker_resources(self.app)
    settings = resources.settings
    done = reports.scan_due(
        resources.engine,
        settings.data_dir,
        now=resources.now(now),
        stale_after=stale_after(settings),
        threshold=settings.report_attendance_threshold,
    )
    for compiled in done:
        log.info("compiled due report %s/%s", compiled.slug, compiled.scope)
    return [compiled.as_json() for compiled in done]
