"""``parley worker``, ``beat`` and ``worker-ping``: Celery, for reminders and reports."""

from __future__ import annotations

import click

from server.cli.errors import fail
from server.cli.metrics_dir import share_metrics_dir
from server.cli.settings import load_settings


def _celery(args: list[str]) -> None:
    settings = load_settings()
    share_metrics_dir(settings, prepare=False)
    from workers.celery_app import create_celery  # noqa: PLC0415 - the server never imports workers; Celery loads only here

    app = create_celery(settings)
    app.start(argv=args)


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a Celery worker (reminders, reports); extra options go to `celery worker`."""
    _celery(["worker", "--loglevel", "INFO", *ctx.args])


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Run Celery beat (scans for due reminders every minute); extra options go to `celery beat`."""
    _celery(["beat", "--loglevel", "INFO", *ctx.args])


@click.command("worker-ping")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait for replies.")
def worker_ping(timeout: float) -> None:
    """Exit 0 when at least one worker answers (a container healthcheck)."""
    settings = load_settings()
    if settings.embedded:
        fail("worker-ping needs Redis (PARLEY_REDIS_URL): the embedded SQLite broker carries no broadcasts")
    from workers.celery_app import create_celery  # noqa: PLC0415 - the server never imports workers; Celery loads only here

    replies = create_celery(settings).control.ping(timeout=timeout)
    if not replies:
        fail("no worker answered")
    click.echo(f"{len(replies)} worker(s) answered")
