"""The Celery worker and beat ``parley serve`` runs beside itself when there is no Redis."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

import click

from config.settings import Settings

EMBEDDED_WORKER_ARGS = (
    "worker",
    "--beat",
    "--pool=solo",
    "--without-mingle",
    "--without-gossip",
    "--without-heartbeat",
)


def start_embedded_worker(settings: Settings) -> subprocess.Popen[bytes] | None:
    """With no Redis (and PARLEY_EMBEDDED_WORKER), run `parley worker --beat --pool=solo` beside the
    server on the SQLite broker in DATA_DIR, so reminders and reports work with nothing else running."""
    if not (settings.embedded and settings.embedded_worker):
        return None
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "server.cli", *EMBEDDED_WORKER_ARGS],
        start_new_session=True,  # serve stops it (SIGTERM, warm shutdown), not the terminal's Ctrl-C
        preexec_fn=_die_with_parent,  # no threads yet; a killed serve leaves no orphan worker
    )
    click.echo(f"embedded worker and beat started (pid {process.pid}, broker {settings.celery_broker_url})", err=True)
    return process


def stop_embedded_worker(process: subprocess.Popen[bytes] | None, grace: float = 6) -> None:
    """SIGTERM (warm shutdown: beat stops, the current task may finish), then after `grace` seconds
    SIGKILL to whatever is left of its process group (a long task, beat's process). Killing is safe:
    every task is idempotent and a send cut short is claimed again after its lease."""
    if process is None:
        return
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the group is the worker and beat
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when serve dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
