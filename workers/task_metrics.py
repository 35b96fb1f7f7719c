"""Celery task outcomes counted into Parley's metrics (``parley_celery_tasks_total``).

``parley worker`` names ``PARLEY_METRICS_DIR`` before this loads, so a worker on the same machine as
``parley serve`` (the embedded one included) writes into the folder ``GET /metrics`` sums. A worker
on a machine or in a container of its own serves them on ``PARLEY_WORKER_METRICS_PORT`` (docs/metrics.md).
"""

from __future__ import annotations

from typing import Any

from celery.signals import task_failure, task_retry, task_success, worker_ready

from server.adapters.metrics import CELERY_TASKS, serve_on_port


def _name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or "unknown")


@worker_ready.connect
def _serve_metrics(sender: Any = None, **_: Any) -> None:
    """With PARLEY_WORKER_METRICS_PORT, the worker's main process serves the folder's sum itself:
    a worker on a machine (or in a container) of its own, which no server's /metrics sees."""
    settings = getattr(getattr(sender, "app", None), "parley_settings", None)
    if settings is not None and settings.worker_metrics_port:
        serve_on_port(settings.host, settings.worker_metrics_port)


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
