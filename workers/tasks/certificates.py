"""Certificate tasks: thin wrappers over ``server.services.certificates`` (primitive kwargs, idempotent).

- ``parley.certificates.issue(event_id, scope)``: issue the certificates of one morning
  (``YYYY-MM-DD``) or of the whole event (``event``) once it is over; issuing again keeps every code
  and changes nothing unless the attendance was corrected.
- ``parley.certificates.scan_due()``: run by beat every minute; issues each scope once it is over.

``now`` (ISO 8601 with offset) stands in for the wall clock when given, as in the report tasks.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from server.services import certificates
from workers.celery_app import worker_resources
from workers.tasks.reports import stale_after

log = logging.getLogger("parley.certificates")


@shared_task(name="parley.certificates.issue", bind=True)
def issue(self: Any, event_id: int, scope: str, now: str | None = None) -> dict[str, Any]:
    resources = worker_resources(self.app)
    settings = resources.settings
    try:
        done = certificates.issue(
            resources.engine,
            settings.data_dir,
            int(event_id),
            str(scope),
            now=resources.now(now),
            stale_after=stale_after(settings),
            threshold=settings.report_attendance_threshold,
            base_url=settings.base_url,
        )
    except (LookupError, certificates.NotOver) as exc:  # a bad or early request: not retried
        log.warning("certificates %s of event %s not issued: %s", scope, event_id, exc)
        return {"event_id": event_id, "scope": scope, "error": str(exc)}
    log.info("issued %d certificates for %s/%s", done.count, done.slug, scope)
    return done.as_json()


@shared_task(name="parley.certificates.scan_due", bind=True)
def scan_due(self: Any, now: str | None = None) -> list[dict[str, Any]]:
    resources = worker_resources(self.app)
    settings = resources.settings
    done = certificates.scan_due(
        resources.engine,
        settings.data_dir,
        now=resources.now(now),
        stale_after=stale_after(settings),
        threshold=settings.report_attendance_threshold,
        base_url=settings.base_url,
    )
    return [issued.as_json() for issued in done]
