"""``parley rehearse``: play an event at speed on the real stack with simulated people, then check
every reminder and every report figure against what they did (``server/rehearsal/``)."""

from __future__ import annotations

import resource
from datetime import datetime
from pathlib import Path

import click

from server.cli.errors import EXIT_USAGE, fail
from server.cli.settings import load_settings

EXIT_CHECKS_FAILED = 1
DEFAULT_MAIL_RATE = 50.0  # reminders go out in batches: `python -m bench mail` sends 82-172 a second here


class Instant(click.ParamType):  # type: ignore[type-arg]
    name = "INSTANT"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 instant (2027-03-01T08:00:00-05:00)", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} has no UTC offset (add -05:00, Z, …)", param, ctx)
        return parsed


@click.command()
@click.argument("slug", required=False, default="idm-2022-1")
@click.option("--attendees", type=click.IntRange(1, 20000), default=300, show_default=True, help="Simulated attendees.")
@click.option(
    "--speed", type=click.FloatRange(1, 2000), default=120.0, show_default=True, help="Virtual seconds per real second."
)
@click.option("--mornings", type=click.IntRange(1, 3), default=3, show_default=True, help="How many mornings to play.")
@click.option(
    "--from",
    "start",
    type=Instant(),
    help="Virtual instant to start at (default: 10 min before the first reminder of a copy whose first morning "
    "is tomorrow).",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Seed of the simulated people: the same seed plays the same rehearsal.",
)
@click.option(
    "--servers",
    type=click.IntRange(1, 8),
    default=2,
    show_default=True,
    help="`parley serve` processes on production settings (PARLEY_REDIS_URL); the embedded default runs one.",
)
@click.option(
    "--startup",
    type=click.FloatRange(3, 600),
    default=20.0,
    show_default=True,
    help="Real seconds the stack gets to start before the clock runs.",
)
@click.option(
    "--mail-rate",
    type=click.FloatRange(0.1, 10000),
    default=DEFAULT_MAIL_RATE,
    show_default=True,
    help="Reminder mails the workers send per real second: the clock slows down around a burst of reminders "
    "so that it goes out in 10 virtual minutes.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for summary.json, summary.html and the logs (default DATA_DIR/rehearsals/<slug>/rehearsal).",
)
def rehearse(
    slug: str,
    attendees: int,
    speed: float,
    mornings: int,
    start: datetime | None,
    seed: int,
    servers: int,
    startup: float,
    out: Path | None,
    mail_rate: float,
) -> None:
    """Play the event SLUG at speed with simulated delegations on the real stack, and check it.

    Copies the event to a rehearsal event, starts `parley serve` (and on production settings several
    servers, `parley worker` and `parley beat`) on one virtual clock, plays every morning with
    simulated attendees and a moderator, then checks that every reminder reached the SMTP server
    once and in time and that every report figure equals what the simulated people did. Exits 0
    when every check held, 1 when one failed.
    """
    import uvloop  # noqa: PLC0415 - the rehearsal loads only when it runs

    from server.rehearsal.run import Options  # noqa: PLC0415 - the rehearsal loads only when it runs
    from server.rehearsal.run import rehearse as play  # noqa: PLC0415 - the rehearsal loads only when it runs
    from server.rehearsal.stack import StackError  # noqa: PLC0415 - the rehearsal loads only when it runs

    settings = load_settings()
    if settings.env == "production":
        fail("parley rehearse adds simulated people to the database: not with PARLEY_ENV=production", EXIT_USAGE)
    if settings.redis_url and not settings.database_url.startswith("postgresql"):
        fail("production settings need PARLEY_DATABASE_URL on PostgreSQL besides PARLEY_REDIS_URL", EXIT_USAGE)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket per simulated tab
    if attendees * 2 + 100 > hard:
        fail(
            f"--attendees {attendees} needs about {attendees * 2 + 100} open files; the limit here is {hard}",
            EXIT_USAGE,
        )
    del soft
    options = Options(slug, attendees, speed, mornings, start, seed, servers, startup, out, mail_rate)
    try:
        # uvloop: the rehearsal's own process carries every simulated tab's socket
        summary = uvloop.run(play(settings, options, lambda line: click.echo(line, err=True)))
    except StackError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted")
    if not summary["passed"]:
        raise SystemExit(EXIT_CHECKS_FAILED)
