"""The Celery application: Redis as broker in production, a SQLite-backed Kombu transport embedded."""

from __future__ import annotations

from celery import Celery

from config.settings import Settings


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
    )
    return app
