"""The Celery application: Redis as broker in production, a SQLite-backed Kombu transport embedded."""

from __future__ import annotations

from celery import Celery

from config.settings import Settings


def broker_urls(settings: Settings) -> tuple[str, str]:
    if settings.redis_url:
        return settings.redis_url, settings.redis_url
    data = settings.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    return f"sqla+sqlite:///{data / 'broker.db'}", f"db+sqlite:///{data / 'results.db'}"


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    broker, backend = broker_urls(settings)
    app = Celery("parley", broker=broker, backend=backend, include=["workers.tasks"])
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
