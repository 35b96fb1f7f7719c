"""The folder every Parley process on this machine writes its metrics into (Prometheus multiprocess mode)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click

from config.settings import Settings

METRICS_DIR_ENV = "PARLEY_METRICS_DIR"


def share_metrics_dir(settings: Settings, *, prepare: bool) -> None:
    """Name the folder in the environment before ``server.adapters.metrics`` is imported (by this
    process, its uvicorn workers, its embedded Celery worker): prometheus-client chooses its
    multiprocess mode once, at its import. ``prepare`` (``parley serve``) also removes the files of
    processes no longer running."""
    directory = settings.resolved_metrics_dir.resolve()
    os.environ[METRICS_DIR_ENV] = str(directory)
    if "server.adapters.metrics" in sys.modules:  # imported too early: this process counts in memory only
        click.echo("warning: metrics loaded before PARLEY_METRICS_DIR was set: counted in memory", err=True)
    directory.mkdir(parents=True, exist_ok=True)
    if prepare:
        remove_stopped_processes_files(directory)


def remove_stopped_processes_files(directory: Path) -> None:
    """What prometheus-client asks before a start: no files from a previous run. The files of
    processes still running (another ``parley serve`` or a worker sharing the folder) are kept."""
    for path in directory.glob("*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if not pid.isdigit() or not _running(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
