"""``parley serve``: the HTTP API, the websockets and the frontend, with what a first start needs."""

from __future__ import annotations

import os
from typing import Any

import click
from sqlalchemy import select

from config.settings import Settings
from server.cli.database import ensure_migrated, run_async
from server.cli.embedded_worker import start_embedded_worker, stop_embedded_worker
from server.cli.errors import CliError, fail
from server.cli.metrics_dir import share_metrics_dir
from server.cli.settings import load_settings
from server.programme import ProgrammeError, load_programme


@click.command()
@click.option("--host", help="Bind address (default PARLEY_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default PARLEY_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the HTTP API, the websockets and the frontend with uvicorn."""
    import uvicorn  # noqa: PLC0415 - only `parley serve` loads the server

    from server.entrypoints.ws.wire import uvicorn_websocket_options  # noqa: PLC0415 - only `parley serve` loads the server

    settings = load_settings()
    share_metrics_dir(settings, prepare=True)
    if host:
        settings.host = host
    if port:
        settings.port = port
    ensure_migrated(settings)
    slugs = load_shipped_programmes(settings)
    if settings.env != "production" and slugs:
        print_demo_links(settings, slugs[0])
    os.environ["PARLEY_HOST"] = settings.host
    os.environ["PARLEY_PORT"] = str(settings.port)
    click.echo(f"Parley serving on http://{settings.host}:{settings.port}", err=True)
    embedded_worker = start_embedded_worker(settings)
    try:
        uvicorn.run(
            "server.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            proxy_headers=True,
            **uvicorn_websocket_options(),
        )
    finally:
        stop_embedded_worker(embedded_worker)


def print_demo_links(settings: Settings, slug: str) -> None:
    from server.adapters.clock import clock_for  # noqa: PLC0415 - the clock loads only when the command runs
    from server.services.demo import create_demo_staff  # noqa: PLC0415 - the services load only when the command runs

    async def create(session: Any) -> list[tuple[str, str, str]]:
        return await create_demo_staff(session, slug, now=clock_for(settings).now())

    for role, email, token in run_async(settings, create):
        click.echo(f"{role} {email}: sign in once at {settings.base_url}/signin/{token}", err=True)


def load_shipped_programmes(settings: Settings) -> list[str]:
    """Load each configured programme file whose event does not exist yet (first start); their slugs."""
    from server.services import programmes  # noqa: PLC0415 - the services load only when the command runs

    slugs = []
    for path in settings.load_programmes:
        try:
            spec = load_programme(path)
        except (ProgrammeError, OSError) as exc:
            fail(str(exc))

        async def load(session: Any, spec: Any = spec) -> bool:
            from server.adapters.db.models import Event  # noqa: PLC0415 - the services load only when the command runs

            if (await session.execute(select(Event.id).where(Event.slug == spec.slug))).first():
                return False
            event, _ = await programmes.upsert_programme(session, spec)
            # outside production the shipped programmes are the demo: a past programme played today,
            # so a rehearsal whose segments open on any day (production keeps them to their own day)
            event.is_rehearsal = settings.env != "production"
            return True

        slugs.append(spec.slug)
        try:
            if run_async(settings, load):
                click.echo(f"loaded programme {spec.slug} from {path}", err=True)
        except CliError as exc:
            if "UNIQUE" in str(exc).upper() or "duplicate key" in str(exc):
                continue  # another replica loaded it at the same moment
            raise
    return slugs
