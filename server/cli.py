"""The ``parley`` command. Every failure a user can cause ends in one line on stderr and a non-zero exit."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from config.settings import Settings, describe_settings

T = TypeVar("T")

EXIT_USAGE = 2
EXIT_FAILURE = 1


class CliError(click.ClickException):
    """One clean line, no traceback."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = code

    def show(self, file: Any = None) -> None:
        click.echo(f"parley: error: {self.format_message()}", err=True)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            var = f"PARLEY_{name.upper()}" if name else "settings"
            problems.append(f"{var}: {err['msg']}")
        raise CliError("invalid setting " + "; ".join(problems), EXIT_USAGE) from None


def _database_label(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.sync_database_url).render_as_string(hide_password=True)


@contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        if exc.connection_invalidated or "connect" in str(exc.orig).lower() or _is_connect_error(exc):
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise CliError(f"cannot reach the database {_database_label(settings)}: {reason}") from None
        raise CliError(f"database error: {str(exc.orig or exc).strip().splitlines()[0]}") from None
    except OSError as exc:
        raise CliError(f"cannot reach the database {_database_label(settings)}: {exc}") from None
    except SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"database error on {_database_label(settings)}: {first}") from None


def _is_connect_error(exc: DBAPIError) -> bool:
    return type(exc.orig).__name__ in {"OperationalError", "ConnectionRefusedError", "CannotConnectNowError"}


def run_async(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(session)`` in one transaction on the async engine."""
    from server.adapters.db.engine import make_async_engine, make_sessionmaker

    async def main() -> T:
        engine = make_async_engine(settings)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    with database_errors(settings):
        return asyncio.run(main())


def ensure_migrated(settings: Settings) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from server.adapters.db.engine import make_sync_engine
    from server.adapters.db.migrate import alembic_config

    engine = make_sync_engine(settings)
    with database_errors(settings), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        current = MigrationContext.configure(conn).get_current_revision()
    engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    if current != head:
        raise CliError(
            f"the database {_database_label(settings)} is at revision {current or 'none'}, "
            f"not {head}: run `parley db upgrade`"
        )


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    raise CliError(message, code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Parley: virtual conference hosting (live stage, speakers queue, Q&A, attendance)."""
    logging.basicConfig(
        level=os.environ.get("PARLEY_LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# --- serve -----------------------------------------------------------------------------------------


@main.command()
@click.option("--host", help="Bind address (default PARLEY_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default PARLEY_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the HTTP API, the websockets and the frontend with uvicorn."""
    import uvicorn

    from server.protocol import MAX_FRAME_BYTES

    settings = load_settings()
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
            ws_per_message_deflate=False,  # on, it costs 2.5x CPU and 2.4x memory per connection
            ws_max_size=MAX_FRAME_BYTES,  # a bigger client frame closes that connection with 1009
            proxy_headers=True,
        )
    finally:
        stop_embedded_worker(embedded_worker)


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
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def print_demo_links(settings: Settings, slug: str) -> None:
    from server.services.demo import create_demo_staff

    async def create(session: Any) -> list[tuple[str, str, str]]:
        return await create_demo_staff(session, slug)

    for role, email, token in run_async(settings, create):
        click.echo(f"{role} {email}: sign in once at {settings.base_url}/signin/{token}", err=True)


def load_shipped_programmes(settings: Settings) -> list[str]:
    """Load each configured programme file whose event does not exist yet (first start); their slugs."""
    from server.programme import ProgrammeError, load_programme
    from server.services import programmes

    slugs = []
    for path in settings.load_programmes:
        try:
            spec = load_programme(path)
        except (ProgrammeError, OSError) as exc:
            fail(str(exc))

        async def load(session: Any, spec: Any = spec) -> bool:
            from sqlalchemy import select

            from server.adapters.db.models import Event

            if (await session.execute(select(Event.id).where(Event.slug == spec.slug))).first():
                return False
            await programmes.upsert_programme(session, spec)
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


# --- db --------------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the latest)."""
    from server.adapters.db import migrate
    from server.adapters.db.engine import make_sync_engine

    settings = load_settings()
    engine = make_sync_engine(settings)
    with database_errors(settings):
        migrate.upgrade(engine, revision)
    engine.dispose()
    click.echo(f"database {_database_label(settings)} at {revision}", err=True)


@db.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree."""
    from alembic.util.exc import CommandError

    from server.adapters.db import migrate
    from server.adapters.db.engine import make_sync_engine

    settings = load_settings()
    engine = make_sync_engine(settings)
    try:
        with database_errors(settings):
            migrate.check(engine)
    except CommandError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    click.echo("models and migrations agree", err=True)


# --- programme -------------------------------------------------------------------------------------


@main.group()
def programme() -> None:
    """Programme files (YAML): check and load."""


def _parse(path: Path) -> Any:
    from server.programme import ProgrammeError, load_programme

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
    from server.services import programmes

    spec = _parse(file)
    settings = load_settings()
    ensure_migrated(settings)

    async def load(session: Any) -> bool:
        _, changed = await programmes.upsert_programme(session, spec)
        return changed

    changed = run_async(settings, load)
    click.echo(f"{spec.slug}: {'updated' if changed else 'unchanged'}")


# --- event -----------------------------------------------------------------------------------------


@main.group()
def event() -> None:
    """Events in the database."""


@event.command("copy")
@click.argument("slug")
@click.option("--new-slug", required=True, help="Slug of the copy.")
@click.option("--first-day", required=True, type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD of day one.")
def event_copy(slug: str, new_slug: str, first_day: Any) -> None:
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
        return len(created.days)

    try:
        days = run_async(settings, copy)
    except programmes.EventNotFound:
        fail(f"no event with slug {slug!r}")
    except programmes.EventExists:
        fail(f"an event with slug {new_slug!r} exists already")
    click.echo(f"{new_slug}: copy of {slug}, {days} days from {day.isoformat()}")


# --- users -----------------------------------------------------------------------------------------


@main.group()
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
    from server.services import accounts

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
    from server.services import accounts

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


# --- workers ---------------------------------------------------------------------------------------


def _celery(args: list[str]) -> None:
    settings = load_settings()
    from workers.celery_app import create_celery

    app = create_celery(settings)
    app.start(argv=args)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a Celery worker (reminders, reports); extra options go to `celery worker`."""
    _celery(["worker", "--loglevel", "INFO", *ctx.args])


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Run Celery beat (scans for due reminders every minute); extra options go to `celery beat`."""
    _celery(["beat", "--loglevel", "INFO", *ctx.args])


@main.command("worker-ping")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait for replies.")
def worker_ping(timeout: float) -> None:
    """Exit 0 when at least one worker answers (a container healthcheck)."""
    settings = load_settings()
    if settings.embedded:
        fail("worker-ping needs Redis (PARLEY_REDIS_URL): the embedded SQLite broker carries no broadcasts")
    from workers.celery_app import create_celery

    replies = create_celery(settings).control.ping(timeout=timeout)
    if not replies:
        fail("no worker answered")
    click.echo(f"{len(replies)} worker(s) answered")


# --- settings --------------------------------------------------------------------------------------


@main.command("settings")
@click.option("--markdown", is_flag=True, help="As the README's table.")
def settings_cmd(markdown: bool) -> None:
    """List every PARLEY_* setting with its default."""
    rows = describe_settings()
    if markdown:
        click.echo("| Variable | Default | Meaning |\n|---|---|---|")
        for var, default, desc in rows:
            click.echo(f"| `{var}` | `{default}` | {desc} |" if default else f"| `{var}` | (empty) | {desc} |")
        return
    load_settings()  # a bad value is reported here too
    for var, default, desc in rows:
        click.echo(f"{var}={default}\n    {desc}")


if __name__ == "__main__":
    main()
