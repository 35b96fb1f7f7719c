"""Report tasks: thin wrappers over ``server.services.reports`` (primitive kwargs, idempotent).

- ``parley.reports.compile(event_id, scope)``: compile one morning (``YYYY-MM-DD``) or the whole
  event (``event``) in every format, as of now. Compiling again with nothing new writes the same
  bytes, so a task delivered twice (or retried after a killed worker) does no harm.
- ``parley.reports.scan_due()``: run by beat every minute; compiles each morning once it is over (by
  the clock, or when the moderator ended its last segment), and the whole event once every morning
  is; a report already compiled complete is not compiled again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from celery import shared_task
from sqlalchemy import Engine

from config.settings import Settings
from server.adapters.db.engine import make_sync_engine
from server.services import reports

log = logging.getLogger("parley.reports")

_engines: dict[str, Engine] = {}


def _settings_and_engine() -> tuple[Settings, Engine]:
    """Settings from the environment and one engine per database per worker process (created
    lazily, so after the prefork)."""
    settings = Settings()
    url = settings.sync_database_url
    if url not in _engines:
        _engines[url] = make_sync_engine(settings)
    return settings, _engines[url]


def attendance_threshold(settings: Settings) -> float:
    """``PARLEY_REPORT_ATTENDANCE_THRESHOLD`` (0..1) when the settings have it, else 50 %."""
    value = getattr(settings, "report_attendance_threshold", None)
    return float(value) if value is not None else reports.DEFAULT_THRESHOLD


@shared_task(name="parley.reports.compile", acks_late=True, ignore_result=False)
def compile_report(event_id: int, scope: str, threshold: float | None = None) -> dict[str, Any]:
    settings, engine = _settings_and_engine()
    try:
        done = reports.compile_report(
            engine,
            settings.data_dir,
            int(event_id),
            str(scope),
            now=datetime.now(UTC),
            threshold=attendance_threshold(settings) if threshold is None else float(threshold),
        )
    except (reports.UnknownScope, LookupError) as exc:  # a bad request is not retried
        log.warning("report %s of event %s not compiled: %s", scope, event_id, exc)
        return {"event_id": event_id, "scope": scope, "error": str(exc)}
    log.info("compiled report %s/%s (complete: %s)", done.slug, scope, done.complete)
    return done.as_json()


@shared_task(name="parley.reports.scan_due", ignore_result=True)
def scan_due() -> list[dict[str, Any]]:
    settings, engine = _settings_and_engine()
    done = reports.scan_due(engine, settings.data_dir, now=datetime.now(UTC), threshold=attendance_threshold(settings))
    for compiled in done:
        log.info("compiled due report %s/%s", compiled.slug, compiled.scope)
    return [compiled.as_json() for compiled in done]
