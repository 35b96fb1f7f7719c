"""``parley event``: events already in the database."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from server.cli.database import ensure_migrated, run_async
from server.cli.errors import EXIT_USAGE, fail
from server.cli.settings import load_settings


@click.group()
def event() -> None:
    """Events in the database."""


@event.command("copy")
@click.argument("slug")
@click.option("--new-slug", required=True, help="Slug of the copy.")
@click.option("--first-day", required=True, type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD of day one.")
@click.option(
    "--rehearsal",
    is_flag=True,
    help="A rehearsal copy: its segments may be opened on any day (a normal copy opens them on their own day).",
)
def event_copy(slug: str, new_slug: str, first_day: Any, rehearsal: bool) -> None:
    """The same programme on new dates (local times kept), e.g. a rehearsal or the next edition."""
    import re

    from server.services import programmes

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}", new_slug):
        fail(f"--new-slug {new_slug!r}: use lower-case letters, digits and '-'", EXIT_USAGE)
    settings = load_settings()
    ensure_migrated(settings)
    day: date = first_day.date()

    async def copy(session: Any) -> int:
        created = await programmes.copy_event(session, slug, new_slug, day)
        created.is_rehearsal = rehearsal
        return len(created.days)

    try:
        days = run_async(settings, copy)
    except programmes.EventNotFound:
        fail(f"no event with slug {slug!r}")
    except programmes.EventExists:
        fail(f"an event with slug {new_slug!r} exists already")
    kind = "rehearsal copy" if rehearsal else "copy"
    click.echo(f"{new_slug}: {kind} of {slug}, {days} days from {day.isoformat()}")
