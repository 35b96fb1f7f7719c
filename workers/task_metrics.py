"""Celery task outcomes counted into Parley's metrics (``parley_celery_tasks_total``).

``parley worker`` names ``PARLEY_METRICS_DIR`` before this loads, so a worker on the same machine as
``parley serve`` (the embedded one included) writes into the folder ``GET /metrics`` sums. A worker
on another machine counts in its own memory only, which nobody reads (docs/metrics.md).
"""

from __future__ import annotations

from typing import Any

from celery.signals import task_failure, task_retry, task_success

from server.adapters.metrics import CELERY_TASKS


def _name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or "unknown")


@task_success.connect
def _succeeded(sender: Any = None, **_: Any) -> None:
    CELERY_TASKS.labels(task=_name(sender), outcome="success").inc()


@task_failure.connect
def _failed(sender: Any = None, **_: Any) -> None:
    CELERY_TASKS.labels(task=_name(sender), outcome="failure").inc()


@task_retry.connect
def _retried(sender: Any = None, request: Any = None, **_: Any) -> None:
    # the retry signal's sender is the task; its name is also on the request
    name = _name(sender) if sender is not None else str(getattr(request, "task", None) or "unknown")
    CELERY_TASKS.labels(task=name, outcome="retry").inc()
