"""The real stack a rehearsal plays on: its database prepared, then `parley serve` (and on
production settings `parley worker` and `parley beat`) started as separate processes, every one of
them given the same virtual clock through ``PARLEY_CLOCK_*``.

Embedded default: one `parley serve`, which runs its own worker and beat on the SQLite broker, in a
data folder of the rehearsal's own (``DATA_DIR/rehearsals/<slug>``), so a rehearsal never mixes with
the real event's database nor sends its mails through the real SMTP server. Production settings
(``PARLEY_DATABASE_URL`` on PostgreSQL and ``PARLEY_REDIS_URL``): several `parley serve` on
consecutive ports, one `parley worker` and one `parley beat`, against that database and Redis,
which must be meant for rehearsals (the rehearsal adds its event, staff and registrations there).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from config.settings import Settings
from server.adapters.db.models import Day, Event, Segment, User
from server.programme import load_programme
from server.rehearsal.plan import MorningPlan, Person, SegmentPlan
from server.services import accounts, auth, programmes, registrations


class StackError(Exception):
    """The stack could not be prepared or did not start: one line for the user."""


@dataclass
class Prepared:
    slug: str
    event_id: int
    mornings: list[MorningPlan]
    languages: list[str]
    staff_emails: dict[str, str]  # role -> email
    tokens: dict[str, str] = field(default_factory=dict)  # role -> session token
    watch_links: dict[str, str] = field(default_factory=dict)  # role -> one-time sign-in path


async def prepare_event(
    session: AsyncSession,
    settings: Settings,
    *,
    source: str,
    slug: str,
    first_day: date,
    mornings: int,
) -> Prepared:
    """Load the source programme if the database lacks it, copy its first ``mornings`` as a
    rehearsal copy from ``first_day``, add a moderator and an organiser."""
    if await session.scalar(select(Event.id).where(Event.slug == source)) is None:
        for path in settings.load_programmes:
            spec = load_programme(path)
            if spec.slug == source:
                await programmes.upsert_programme(session, spec)
                break
        else:
            raise StackError(
                f"no event {source!r} in the database and no programme file for it (PARLEY_LOAD_PROGRAMMES)"
            )
    try:
        copy = await programmes.copy_event(session, source, slug, first_day)
    except programmes.EventExists:
        raise StackError(f"an event {slug!r} exists already: choose another slug or a fresh database") from None
    copy.is_rehearsal = True
    for day in sorted(copy.days, key=lambda d: d.date)[mornings:]:  # a rehearsal of fewer mornings
        copy.days.remove(day)
    await session.flush()
    staff: dict[str, str] = {}
    for role in ("moderator", "organiser"):
        email = f"{role}@{slug}.rehearsal.invalid"
        await accounts.grant_role(session, email=email, name=f"Rehearsal {role}", slug=slug, role=role, password=None)
        staff[role] = email
    event = await session.scalar(
        select(Event)
        .where(Event.slug == slug)
        .options(selectinload(Event.days).selectinload(Day.segments).selectinload(Segment.people))
    )
    assert event is not None
    plans = [
        MorningPlan(
            day.date.isoformat(),
            day.starts_at,
            day.ends_at,
            tuple(
                SegmentPlan(
                    s.id, s.key, s.starts_at, s.ends_at, tuple(p.id for p in sorted(s.people, key=lambda p: p.position))
                )
                for s in sorted(day.segments, key=lambda s: s.starts_at)
            ),
        )
        for day in event.days
    ]
    return Prepared(slug, event.id, plans, list(event.languages), staff)


async def open_staff_sessions(session: AsyncSession, prepared: Prepared, *, now: datetime) -> None:
    """A session for each simulated staff member, and a one-time sign-in link for a person who
    wants to watch, both as of ``now`` on the rehearsal's clock."""
    for role, email in prepared.staff_emails.items():
        user_id = await session.scalar(select(User.id).where(User.email == email))
        assert user_id is not None
        own_link = await auth.create_sign_in_link(session, user_id, now=now)
        prepared.tokens[role] = await auth.sign_in_with_link(session, own_link, now=now, address="rehearsal")
        prepared.watch_links[role] = f"/signin/{await auth.create_sign_in_link(session, user_id, now=now)}"


async def register_people(
    session: AsyncSession, settings: Settings, slug: str, people: list[Person], *, now: datetime
) -> list[tuple[int, str]]:
    """Register ``people`` as of ``now`` and open a session for each: (registration id, token)."""
    join_links = auth.JoinLinks(settings.resolved_secret_key())
    made: list[tuple[int, str]] = []
    for person in people:
        data = registrations.RegistrationIn(
            name=person.name,
            email=person.email,
            organisation=person.organisation,
            category=person.category,
            country=person.country,
            language=person.language,
            timezone=person.timezone,
            listed=person.index % 3 == 0,
        )
        registration, link = await registrations.register(session, slug, data, join_links, now=now)
        token, _ = await auth.join_with_link(session, join_links, link, now=now)
        made.append((registration.id, token))
    return made


# --- processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Stack:
    """The running processes and where to reach them."""

    urls: list[str]
    processes: list[tuple[str, subprocess.Popen[bytes]]]
    log_dir: Path

    def alive(self) -> list[str]:
        return [name for name, process in self.processes if process.poll() is None]

    def dead(self) -> list[str]:
        return [f"{name} (exit {process.returncode})" for name, process in self.processes if process.poll() is not None]

    def stop(self) -> None:
        for _, process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
        for _, process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def stack_environment(settings: Settings, clock_env: dict[str, str], smtp: tuple[str, int] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        {
            "PARLEY_ENV": "development",
            "PARLEY_DATA_DIR": str(settings.data_dir.resolve()),
            "PARLEY_DATABASE_URL": settings.database_url,
            "PARLEY_REDIS_URL": settings.redis_url,
            "PARLEY_BUS_PREFIX": settings.bus_prefix or f"rehearsal-{secrets.token_hex(3)}",
            "PARLEY_SECRET_KEY": settings.resolved_secret_key(),
            "PARLEY_LOAD_PROGRAMMES": "",
            "PARLEY_HEARTBEAT_S": str(settings.heartbeat_s),
            "PARLEY_IDLE_TIMEOUT_S": str(settings.idle_timeout_s),
            "PARLEY_REPORT_ATTENDANCE_THRESHOLD": str(settings.report_attendance_threshold),
            "PARLEY_LOG_LEVEL": "warning",
            **clock_env,
        }
    )
    if smtp is not None:
        env["PARLEY_SMTP_HOST"], env["PARLEY_SMTP_PORT"] = smtp[0], str(smtp[1])
    else:
        for name in ("host", "port", "username", "password", "from", "starttls", "ssl", "timeout"):
            value = getattr(settings, f"smtp_{name}")
            value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            env[f"PARLEY_SMTP_{name.upper()}"] = str(value)
    return env


def start_stack(settings: Settings, env: dict[str, str], *, servers: int, log_dir: Path) -> Stack:
    """`parley serve` (embedded: with its worker and beat), or on production settings ``servers``
    × `parley serve`, `parley worker` and `parley beat`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    processes: list[tuple[str, subprocess.Popen[bytes]]] = []
    urls = []

    def spawn(name: str, args: list[str], extra: dict[str, str]) -> None:
        log = (log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "server.cli", *args],
            env={**env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append((name, process))

    embedded = not settings.redis_url
    for index in range(1 if embedded else servers):
        port = free_port()
        urls.append(f"http://127.0.0.1:{port}")
        spawn(
            f"serve-{index + 1}",
            ["serve", "--host", "127.0.0.1", "--port", str(port)],
            {
                "PARLEY_EMBEDDED_WORKER": "true" if embedded else "false",
                "PARLEY_PORT": str(port),
                "PARLEY_ALLOWED_ORIGINS": "",
            },
        )
    if not embedded:
        spawn("worker", ["worker", "--concurrency", "2", "--without-mingle", "--without-gossip"], {})
        beat_file = str((settings.data_dir / "celerybeat-schedule").resolve())
        spawn("beat", ["beat", "--schedule", beat_file], {})
    return Stack(urls, processes, log_dir)


def wait_ready(stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for url in stack.urls:
        while True:
            if stack.dead():
                raise StackError(f"a process of the stack stopped: {', '.join(stack.dead())}; see {stack.log_dir}")
            with contextlib.suppress(URLError, OSError):
                with urlopen(f"{url}/readyz", timeout=2) as answer:  # noqa: S310 - our own server
                    if answer.status == 200:
                        break
            if time.monotonic() > deadline:
                raise StackError(f"{url} was not ready after {timeout:.0f} s; see {stack.log_dir}")
            time.sleep(0.2)
