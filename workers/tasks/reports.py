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
from datetime import UTC, datetime
from typing import Any

from celery import shared_task
from sqlalchemy import Engine

from config.settings import Settings
from server.services import reports
from workers.celery_app import worker_resources

log = logging.getLogger("parley.reports")


def instant(now: str | None) -> datetime:
    if not now:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(now)
    if parsed.tzinfo is None:
        raise ValueError(f"now={now!r} has no UTC offset")
    return parsed.astimezone(UTC)


def attendance_threshold(settings: Settings) -> float:
    """``PARLEY_REPORT_ATTENDANCE_THRESHOLD`` (0..1) when the settings have it, else 50 %."""
    value = getattr(settings, "report_attendance_threshold", None)
    return float(value) if value is not None else reports.DEFAULT_THRESHOLD


def _resources(app: Any) -> tuple[Settings, Engine]:
    resources = worker_resources(app)
    engine = resources.sessions.kw["bind"]
    return resources.settings, engine


@shared_task(name="parley.reports.compile", bind=True)
def compile_report(
    self: Any, event_id: int, scope: str, now: str | None = None, threshold: float | None = None
) -> dict[str, Any]:
    settings, engine = _resources(self.app)
    try:
        done = reports.compile_report(
            engine,
            settings.data_dir,
            int(event_id),
            str(scope),
            now=instant(now),
            threshold=attendance_threshold(settings) if threshold is None else float(threshold),
        )
    except LookupError as exc:  # no such event or morning: a bad request, not retried
        log.warning("report %s of event %s not compiled: %s", scope, event_id, exc)
        return {"event_id": event_id, "scope": scope, "error": str(exc)}
    log.info("compiled report %s/%s (complete: %s)", done.slug, scope, done.complete)
    return done.as_json()


@shared_task(name="parley.reports.scan_due", bind=True)
def scan_due(self: Any, now: str | None = None) -> list[dict[str, Any]]:
    settings, engine = _resources(self.app)
    done = reports.scan_due(engine, settings.data_dir, now=instant(now), threshold=attendance_threshold(settings))
    for compiled in done:
        log.info("compiled due report %s/%s", compiled.slug, compiled.scope)
    return [compiled.as_json() for compiled in done]
