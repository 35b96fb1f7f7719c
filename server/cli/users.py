"""``parley users``: staff accounts, moderators and organisers of an event."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy.exc import IntegrityError

from server.cli.database import ensure_migrated, run_async
from server.cli.errors import EXIT_USAGE, fail
from server.cli.settings import load_settings


@click.group()
def users() -> None:
    """Staff accounts: moderators and organisers."""


@users.command("add")
@click.option("--role", required=True, type=click.Choice(["moderator", "organiser"]))
@click.option("--event", "slug", required=True, help="Slug of the event the role applies to.")
@click.option("--email", required=True)
@click.option("--name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_add(role: str, slug: str, email: str, name: str, password_stdin: bool) -> None:
    """Give EMAIL the ROLE on an event (creating the account when new)."""
    from server.services import accounts  # noqa: PLC0415 - the services load only when the command runs

    email = email.strip().lower()
    if not accounts.EMAIL_RE.fullmatch(email):
        fail(f"--email {email!r} is not an email address", EXIT_USAGE)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password is not None and len(password) < accounts.MIN_PASSWORD:
        fail(f"password too short: at least {accounts.MIN_PASSWORD} characters", EXIT_USAGE)
    settings = load_settings()
    ensure_migrated(settings)

    async def add(session: Any) -> bool:
        return await accounts.grant_role(session, email=email, name=name, slug=slug, role=role, password=password)

    try:
        created = run_async(settings, add)
    except accounts.UnknownEvent:
        fail(f"no event with slug {slug!r}")
    except IntegrityError:
        fail(f"{email} could not be added (it was added concurrently); try again")
    click.echo(f"{email}: {role} of {slug}" + (" (new account)" if created else ""))


@users.command("remove")
@click.option("--role", required=True, type=click.Choice(["moderator", "organiser"]))
@click.option("--event", "slug", required=True, help="Slug of the event the role applies to.")
@click.option("--email", required=True)
def users_remove(role: str, slug: str, email: str) -> None:
    """Take ROLE on an event away from EMAIL; its open live connections close within seconds."""
    from server.services import accounts  # noqa: PLC0415 - the services load only when the command runs

    email = email.strip().lower()
    settings = load_settings()
    ensure_migrated(settings)

    async def remove(session: Any) -> bool:
        return await accounts.revoke_role(session, email=email, slug=slug, role=role)

    try:
        removed = run_async(settings, remove)
    except accounts.UnknownEvent:
        fail(f"no event with slug {slug!r}")
    if not removed:
        fail(f"{email} is not {role} of {slug}")
    click.echo(f"{email}: no longer {role} of {slug}")


@users.command("unlock")
@click.option("--email", default="", help="Clear the failed sign-ins of this account.")
@click.option("--address", default="", help="Clear the failed sign-ins from this client address.")
def users_unlock(email: str, address: str) -> None:
    """Let a throttled account or address sign in again now (the failures stay in the audit)."""
    from server.adapters.clock import clock_for  # noqa: PLC0415 - the clock loads only when the command runs
    from server.services import sign_in_audit  # noqa: PLC0415 - the services load only when the command runs

    if not email.strip() and not address.strip():
        fail("give --email, --address or both", EXIT_USAGE)
    settings = load_settings()
    ensure_migrated(settings)

    async def unlock(session: Any) -> None:
        now = clock_for(settings).now()
        if email.strip():
            await sign_in_audit.record(session, now=now, email=email, address="", method="cli", outcome="reset")
        if address.strip():
            await sign_in_audit.record(
                session, now=now, email="", address=address.strip(), method="cli", outcome="reset"
            )

    run_async(settings, unlock)
    click.echo("unlocked: " + ", ".join(part for part in (email.strip().lower(), address.strip()) if part))
