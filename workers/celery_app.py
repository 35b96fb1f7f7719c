"""The Celery application: Redis as broker in production, a SQLite-backed Kombu transport embedded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Celery
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from server.adapters.clock import Clock, clock_for, parse_instant
from server.adapters.db.engine import make_sync_engine
from workers import task_metrics  # noqa: F401 - connects the task outcome counters
from workers.schedule import beat_schedule


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Celery(
        "parley", broker=settings.celery_broker_url, backend=settings.celery_result_url, include=["workers.tasks"]
    )
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        timezone="UTC",
        enable_utc=True,
        broker_connection_retry_on_startup=True,
        result_expires=24 * 3600,
        beat_schedule=beat_schedule(settings.virtual_speed),
        beat_schedule_filename=str((settings.data_dir / "celerybeat-schedule").resolve()),
    )
    if settings.embedded:
        # Kombu's SQLAlchemy transport has no fanout exchange: no remote control (ping) embedded.
        app.conf.worker_enable_remote_control = False
    app.parley_settings = settings  # type: ignore[attr-defined]
    return app


@dataclass
class WorkerResources:
    """What tasks share in one worker process: the settings, a sync database session factory and
    the clock (the same choice as the server's: ``clock_for(settings)``)."""

    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock

    @property
    def engine(self) -> Engine:
        engine: Engine = self.sessions.kw["bind"]
        return engine

    def now(self, given: str | None = None) -> datetime:
        """A task's ``now`` argument (ISO 8601 with its offset) when given, else the clock's: tests
        and replays set the instant instead of waiting, and beat's scans leave it out."""
        return parse_instant(given) if given else self.clock.now()


_resources: dict[int, WorkerResources] = {}


def worker_resources(app: Any) -> WorkerResources:
    """Per process (a prefork child must not reuse its parent's connections), created on first use."""
    pid = os.getpid()
    if pid not in _resources:
        settings = getattr(app, "parley_settings", None) or Settings()
        engine = make_sync_engine(settings)
        _resources.clear()
        _resources[pid] = WorkerResources(settings, sessionmaker(engine, expire_on_commit=False), clock_for(settings))
    return _resources[pid]
