"""A whole rehearsal, start to end: prepare, start the stack on the virtual clock, play every window
with the simulated people, collect the reports, check, summarise."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen
from zoneinfo import ZoneInfo

from config.settings import Settings
from server.adapters.clock import ScaledClock
from server.adapters.db.engine import make_async_engine, make_sessionmaker, make_sync_engine
from server.adapters.db.migrate import upgrade
from server.programme import ReminderSpec, format_offset, load_programme
from server.rehearsal import checks, formats, polls
from server.rehearsal.actors import Board, Stage, Truth, moderator_events, play_attendee, play_moderator
from server.rehearsal.plan import Burst, MorningPlan, first_joins, plan_people, plan_timeline
from server.rehearsal.smtp_sink import SmtpSink
from server.rehearsal.stack import (
    Prepared,
    StackError,
    open_staff_sessions,
    prepare_event,
    register_people,
    stack_environment,
    start_stack,
    wait_ready,
)
from server.rehearsal.summary import percentile, text_summary, write_summary
from server.rehearsal.wire import Ledger, Problems, RoundTrip, WireClient

REPORT_WAIT_S = 180.0
STAFF_LANGUAGE_NOTE = "staff accounts have no language: their reminders are in the event's first language"


@dataclass
class Options:
    source: str
    attendees: int
    speed: float
    mornings: int
    start: datetime | None
    seed: int
    servers: int
    startup_s: float
    out: Path | None
    mail_rate: float = 50.0


def _played(timeline: Any) -> Callable[[datetime], bool]:
    return lambda instant: bool(timeline.played(instant))


async def _in_session(settings: Settings, work: Callable[[Any], Any]) -> Any:
    engine = make_async_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def _get(url: str, token: str) -> bytes:
    request = Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - our own server
    with urlopen(request, timeout=30) as answer:  # noqa: S310 - our own server
        body: bytes = answer.read()
        return body


def rehearsal_settings(settings: Settings, slug: str, attendees: int) -> Settings:
    """The embedded default plays in a data folder of its own; production settings keep theirs.
    Heartbeats every 2 s real (a few virtual minutes at 120x), fewer with thousands of simulated
    tabs in one process, and an idle timeout of four heartbeats."""
    heartbeat = max(2.0, attendees / 1000)
    update: dict[str, Any] = {"heartbeat_s": heartbeat, "idle_timeout_s": 4 * heartbeat}
    if settings.embedded:
        folder = settings.data_dir / "rehearsals" / slug
        if folder.exists():
            shutil.rmtree(folder)
        update |= {"data_dir": folder, "database_url": "", "secret_key": settings.secret_key}
    fresh = settings.model_copy(update=update)
    fresh.__dict__.pop("async_database_url", None)  # cached properties of the copied settings
    fresh.__dict__.pop("sync_database_url", None)
    return fresh


async def rehearse(base: Settings, options: Options, echo: Callable[[str], None]) -> dict[str, Any]:
    began = time.monotonic()
    spec = next((load_programme(p) for p in base.load_programmes if load_programme(p).slug == options.source), None)
    zone = ZoneInfo(spec.timezone) if spec else ZoneInfo("America/New_York")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    slug = f"{options.source[:40]}-rehearsal-{stamp}".lower()
    settings = rehearsal_settings(base, slug, options.attendees)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    out = options.out or settings.data_dir / "rehearsal"
    logging.getLogger("alembic").setLevel(logging.WARNING)
    upgrade(make_sync_engine(settings))

    first_day: date = (
        (options.start + timedelta(days=1)).astimezone(zone).date()
        if options.start
        else (datetime.now(UTC) + timedelta(days=1)).astimezone(zone).date()
    )
    schedule = ReminderSpec()
    first_reminder = timedelta(minutes=max(*schedule.attendees, *schedule.speakers))
    # the people register at the rehearsal's first instant: computed from the programme's first morning
    probe: Prepared = await _in_session(
        settings,
        lambda s: prepare_event(
            s, settings, source=options.source, slug=slug, first_day=first_day, mornings=options.mornings
        ),
    )
    mornings = probe.mornings[: options.mornings]
    bursts = [
        Burst(morning.starts_at - timedelta(minutes=minutes), count)
        for morning in probe.mornings
        for minutes_list, count in ((schedule.attendees, options.attendees), (schedule.speakers, 1))
        for minutes in minutes_list
    ]
    rng = random.Random(options.seed)
    people = plan_people(rng, options.attendees, mornings, f"{slug}.rehearsal.invalid")
    timeline = plan_timeline(
        mornings,
        speed=options.speed,
        first_reminder=first_reminder,
        start=options.start,
        bursts=bursts,
        mail_rate=options.mail_rate,
        first_joins=first_joins(people),
    )
    made = await _in_session(settings, lambda s: register_people(s, settings, slug, people, now=timeline.starts_at))
    await _in_session(settings, lambda s: open_staff_sessions(s, probe, now=timeline.starts_at))
    registrations = {rid: person.email for (rid, _), person in zip(made, people, strict=True)}
    categories = {rid: person.category for (rid, _), person in zip(made, people, strict=True)}

    anchor = datetime.now(UTC) + timedelta(seconds=options.startup_s)
    clock = ScaledClock(anchor, timeline.pieces(), options.speed)
    clock_env = {
        "PARLEY_CLOCK_ANCHOR": anchor.isoformat(),
        "PARLEY_CLOCK_TIMELINE": ",".join(f"{o}={i.isoformat()}@{v:g}" for o, i, v in timeline.pieces()),
        "PARLEY_CLOCK_SPEED": repr(options.speed),
    }
    sink = None
    if not settings.smtp_host:
        sink = SmtpSink(clock.now)
        await sink.start()
    env = stack_environment(settings, clock_env, ("127.0.0.1", sink.port) if sink else None)
    stack = start_stack(settings, env, servers=options.servers, log_dir=out / "logs")
    ledger, problems, truth, board = Ledger(), Problems(), Truth(), Board()
    stage = Stage(clock, stack.urls, slug, ledger, problems, truth, board, random.Random(options.seed + 1))
    fresh: dict[str, tuple[int, dict[str, Any]]] = {}
    reports: dict[str, dict[str, list[dict[str, str]]]] = {}
    workbooks: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    polls.install()
    try:
        await asyncio.to_thread(wait_ready, stack, max(60.0, options.startup_s * 3))
        late = (datetime.now(UTC) - anchor).total_seconds()
        if late > 0:
            echo(f"warning: the stack was ready {late:.1f} s after the clock started; raise --startup")
        base_url = stack.urls[0]
        echo(
            f"rehearsal {slug}: virtual {timeline.starts_at.astimezone(zone):%Y-%m-%d %H:%M %Z} "
            f"at {options.speed:g}x, about {timeline.real_seconds():.0f} s real"
        )
        echo(f"  attendee page   {base_url}/events/{slug}")
        echo(f"  moderator       {base_url}{probe.watch_links['moderator']}  then {base_url}/moderate/{slug}")
        echo(f"  organiser       {base_url}{probe.watch_links['organiser']}  then {base_url}/organise/{slug}")
        echo(f"  logs            {stack.log_dir}")
        moderator = WireClient(
            base_url=base_url,
            slug=slug,
            token=probe.tokens["moderator"],
            clock=clock,
            ledger=ledger,
            problems=problems,
            on_event=moderator_events(stage),
        )
        for window in timeline.windows:
            await stage.until(window.starts_at)
            if window.morning is None:
                echo(f"  {window.starts_at.astimezone(zone):%a %d %b %H:%M}: {window.label}")
                await stage.until(window.ends_at)
                continue
            morning = window.morning
            echo(f"  {window.starts_at.astimezone(zone):%a %d %b %H:%M}: morning {morning.day}")
            await moderator.open(resume=bool(moderator.positions))
            stage.round_trips = await _round_trips(stage, probe.tokens["organiser"])
            attendees = [
                asyncio.create_task(play_attendee(stage, person, rid, token, morning.day))
                for person, (rid, token) in zip(people, made, strict=True)
            ]
            await play_moderator(stage, moderator, morning)
            await asyncio.gather(*attendees)
            for round_trip in stage.round_trips:
                await round_trip.client.close()
            stage.round_trips = []
            await stage.until(window.ends_at - timedelta(minutes=2))
            if window is timeline.windows[-1]:
                fresh = await _fresh_snapshot(stage, probe.tokens["organiser"], moderator)
            await moderator.close()
            if stack.dead():
                raise StackError(f"a process of the stack stopped: {', '.join(stack.dead())}; see {stack.log_dir}")
        scopes = [m.day for m in mornings] + ["event"]
        reports, workbooks = await _collect_reports(base_url, slug, probe.tokens["organiser"], scopes, echo)
    finally:
        stack.stop()
        if sink is not None:
            await sink.stop()

    staff_language = probe.languages[0] if probe.languages else "en"
    expected = checks.expected_reminders(
        probe.mornings,
        played=_played(timeline),
        people=[(p.email, p.language) for p in people],
        staff=[(probe.staff_emails["moderator"], staff_language)],
        attendee_minutes=schedule.attendees,
        speaker_minutes=schedule.speakers,
        slug_kind=lambda audience, minutes: f"{audience}-{format_offset(minutes)}",
    )
    results = [checks.check_clients(ledger, problems, fresh)]
    if sink is not None:
        results.append(checks.check_reminders(expected, sink.received, slug))
    for morning in mornings:
        tables = reports.get(morning.day)
        if tables is None:
            missing = checks.Check(f"report {morning.day}")
            missing.fail("the report of this morning was not compiled in time")
            results.append(missing)
        else:
            check = checks.check_report(morning, tables, truth, registrations)
            check.figures |= polls.check_polls(check, morning, tables, truth.extra.get("polls"), categories)
            results.append(check)
    if "event" in reports:
        results.append(formats.check_event_report(mornings, reports["event"], reports, truth, registrations))
    else:
        missing = checks.Check("report event")
        missing.fail("the whole event's report was not compiled in time")
        results.append(missing)
    for scope, tables in reports.items():
        if scope in workbooks:
            results.append(formats.check_xlsx(scope, tables, workbooks[scope]))
        else:
            missing = checks.Check(f"xlsx {scope}")
            missing.fail("the XLSX report was not compiled in time")
            results.append(missing)
    summary = _summary(options, settings, slug, timeline, truth, ledger, problems, results, began, sink)
    series = _series(mornings, truth, reports)
    json_path, html_path = write_summary(out, summary, series)
    echo(text_summary(summary))
    echo(f"summary: {json_path} and {html_path}")
    return summary


async def _round_trips(stage: Stage, token: str) -> list[RoundTrip]:
    """A connection of the organiser's to each server, for the tabs' round trips (``RoundTrip``)."""
    found = []
    for url in stage.urls:
        client = WireClient(
            base_url=url, slug=stage.slug, token=token, clock=stage.clock, ledger=stage.ledger, problems=stage.problems
        )
        await client.open()
        found.append(RoundTrip(client))
    return found


async def _fresh_snapshot(stage: Stage, token: str, moderator: WireClient) -> dict[str, tuple[int, dict[str, Any]]]:
    """A fresh staff snapshot from a new connection, once the moderator's client caught up with it."""
    fresh = stage.client(token, 0, watch=False)
    await fresh.open()
    positions = dict(fresh.positions)
    await fresh.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(  # noqa: ASYNC110 - polling another client's positions
        moderator.positions.get(c, ("", -1))[1] < s for c, (_, s) in positions.items()
    ):
        await asyncio.sleep(0.1)
    return {
        channel: (seq, json.loads(stage.ledger.snapshots[(channel, seq)])) for channel, (_, seq) in positions.items()
    }


async def _collect_reports(
    base_url: str, slug: str, token: str, scopes: list[str], echo: Callable[[str], None]
) -> tuple[dict[str, dict[str, list[dict[str, str]]]], dict[str, dict[str, list[tuple[Any, ...]]]]]:
    """Wait for beat's scan to compile each morning's report and the whole event's, then read
    their CSV files and XLSX workbooks over HTTP."""
    deadline = time.monotonic() + REPORT_WAIT_S
    done: dict[str, dict[str, list[dict[str, str]]]] = {}
    books: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
    while time.monotonic() < deadline and len(done) < len(scopes):
        listing = json.loads(await asyncio.to_thread(_get, f"{base_url}/api/events/{slug}/reports", token))
        complete = {(i["scope"], i["format"]): i["url"] for i in listing["reports"] if i["complete"]}
        for scope in scopes:
            if scope not in done and (scope, "csv.zip") in complete and (scope, "xlsx") in complete:
                zipped = await asyncio.to_thread(_get, f"{base_url}{complete[(scope, 'csv.zip')]}", token)
                workbook = await asyncio.to_thread(_get, f"{base_url}{complete[(scope, 'xlsx')]}", token)
                done[scope] = checks.read_tables(zipped)
                books[scope] = await asyncio.to_thread(formats.read_workbook, workbook)
        if len(done) < len(scopes):
            await asyncio.sleep(1)
    if len(done) < len(scopes):
        echo(f"warning: reports compiled for {sorted(done)} only, after {REPORT_WAIT_S:.0f} s")
    return done, books


def _summary(
    options: Options,
    settings: Settings,
    slug: str,
    timeline: Any,
    truth: Truth,
    ledger: Ledger,
    problems: Problems,
    results: list[checks.Check],
    began: float,
    sink: SmtpSink | None,
) -> dict[str, Any]:
    joins = sorted(truth.join_instants)
    peak_rate = 0
    start = 0
    for end, instant in enumerate(joins):  # the most joins within one real second
        while instant - joins[start] > 1.0:
            start += 1
        peak_rate = max(peak_rate, end - start + 1)
    reminders = next((c.figures for c in results if c.name == "reminders"), {})
    report_figures = {c.name.removeprefix("report "): c.figures for c in results if c.name.startswith("report ")}
    return {
        "source": options.source,
        "slug": slug,
        "mode": "embedded" if settings.embedded else f"production ({options.servers} servers, worker, beat)",
        "speed": options.speed,
        "attendees": options.attendees,
        "mornings": options.mornings,
        "seed": options.seed,
        "virtual_from": timeline.starts_at.isoformat(),
        "virtual_to": timeline.ends_at.isoformat(),
        "real_seconds": round(time.monotonic() - began, 1),
        "figures": {
            "attendees": options.attendees,
            "connections": len(truth.intervals),
            "events": len(ledger.events),
            "messages_received": ledger.frames,
            "commands_sent": truth.commands,
            "reminders_delivered": reminders.get("delivered", "n/a (external SMTP)" if sink is None else 0),
            "reminders_due": reminders.get("due", "n/a"),
            "report_figures": report_figures,
            "join_peak_per_s": peak_rate,
            "join_ms_p50": percentile(truth.join_ms, 0.5),
            "join_ms_p99": percentile(truth.join_ms, 0.99),
            "fanout_ms_p50": percentile(truth.fanout_ms, 0.5),
            "fanout_ms_p99": percentile(truth.fanout_ms, 0.99),
            "fanout_samples": len(truth.fanout_ms),
            "server_round_trips": ledger.round_trips,
            "errors": problems.total() + ledger.event_mismatches + ledger.snapshot_mismatches,
        },
        "checks": [c.as_json() for c in results],
        "passed": all(c.passed for c in results),
        "notes": [STAFF_LANGUAGE_NOTE],
    }


def _series(
    mornings: list[MorningPlan], truth: Truth, reports: dict[str, dict[str, list[dict[str, str]]]]
) -> dict[str, list[tuple[str, int, int, int | None]]]:
    presence = checks.Presence.of(truth.intervals)
    series: dict[str, list[tuple[str, int, int, int | None]]] = {}
    for morning in mornings:
        reported = {row["minute_utc"]: int(row["present"]) for row in reports.get(morning.day, {}).get("timeline", [])}
        points = []
        minute = morning.starts_at.astimezone(UTC).replace(second=0, microsecond=0)
        while minute < morning.ends_at:
            window = (minute, minute + timedelta(minutes=1))
            low = sum(1 for spans in presence.low.values() if checks.clipped_seconds(spans, window) > 0)
            high = sum(1 for spans in presence.high.values() if checks.clipped_seconds(spans, window) > 0)
            label = minute.strftime("%Y-%m-%dT%H:%M:%SZ")
            points.append((label, low, high, reported.get(label)))
            minute += timedelta(minutes=1)
        series[morning.day] = points
    return series
