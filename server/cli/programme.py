"""``parley programme``: check a programme file, or load it into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from server.cli.database import ensure_migrated, run_async
from server.cli.errors import EXIT_USAGE, fail
from server.cli.settings import load_settings
from server.programme import ProgrammeError, load_programme


@click.group()
def programme() -> None:
    """Programme files (YAML): check and load."""


def _parse(path: Path) -> Any:
    try:
        return load_programme(path)
    except ProgrammeError as exc:
        fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}", EXIT_USAGE)


@programme.command("check")
@click.argument("file", type=click.Path(path_type=Path))
def programme_check(file: Path) -> None:
    """Validate FILE without touching the database."""
    spec = _parse(file)
    segments = sum(len(d.segments) for d in spec.days)
    click.echo(f"{file}: ok: {spec.slug}, {len(spec.days)} days, {segments} segments")


@programme.command("load")
@click.argument("file", type=click.Path(path_type=Path))
def programme_load(file: Path) -> None:
    """Create or update (by slug) the event described by FILE, all or nothing."""
    from server.services import programmes  # noqa: PLC0415 - the services load only when the command runs

    spec = _parse(file)
    settings = load_settings()
    ensure_migrated(settings)

    async def load(session: Any) -> bool:
        _, changed = await programmes.upsert_programme(session, spec)
        return changed

    changed = run_async(settings, load)
    click.echo(f"{spec.slug}: {'updated' if changed else 'unchanged'}")
