"""Enqueue worker tasks by name: the server never imports ``workers/``.

The broker is the one the workers use (Redis in production, the SQLite-backed transport in
``PARLEY_DATA_DIR`` when embedded). Sending is a blocking Kombu call, so it runs in a thread.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from celery import Celery

from config.settings import Settings

log = logging.getLogger("parley.tasks")


class TaskSender:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Celery | None = None

    def _celery(self) -> Celery:
        if self._client is None:
            self._settings.data_dir.mkdir(parents=True, exist_ok=True)
            self._client = Celery(
                "parley-server",
                broker=self._settings.celery_broker_url,
                backend=self._settings.celery_result_url,
            )
            self._client.conf.update(task_serializer="json", accept_content=["json"])
        return self._client

    def send_sync(self, name: str, **kwargs: Any) -> str:
        return str(self._celery().send_task(name, kwargs=kwargs).id)

    async def send(self, name: str, **kwargs: Any) -> str | None:
        """Enqueue ``name(**kwargs)``; None (logged) when the broker cannot be reached."""
        try:
            return await asyncio.to_thread(self.send_sync, name, **kwargs)
        except Exception:
            log.exception("could not enqueue %s", name)
            return None
