"""The folder every Parley process on this machine writes its metrics into (Prometheus multiprocess mode)."""

from __future__ import annotations

import os
import sys

import click

from config.settings import Settings

METRICS_DIR_ENV = "PARLEY_METRICS_DIR"


def share_metrics_dir(settings: Settings, *, prepare: bool) -> None:
    """Name the folder in the environment before ``server.adapters.metrics`` is imported (by this
    process, its uvicorn workers, its embedded Celery worker): prometheus-client chooses its
    multiprocess mode once, at its import. ``prepare`` (``parley serve``) creates it and removes the
    files of processes no longer running."""
    directory = settings.resolved_metrics_dir.resolve()
    os.environ[METRICS_DIR_ENV] = str(directory)
    if "server.adapters.metrics" in sys.modules:  # imported too early: this process counts in memory only
        click.echo("warning: metrics loaded before PARLEY_METRICS_DIR was set: counted in memory", err=True)
    if prepare:
        from server.adapters.metrics import prepare_directory  # noqa: PLC0415 - after the folder is named

        prepare_directory(directory)
    else:
        directory.mkdir(parents=True, exist_ok=True)
