"""The simulated people: attendees who come and go as planned, and a moderator who runs every
segment a little late. Each writes down what it did in the ``Truth`` as it does it; the checks
compare the reports with that, never with what the server says about itself.

Hooks for features beside the core ones: ``ATTENDEE_HOOKS`` holds extra behaviours an attendee runs
while connected, ``EVENT_WATCHERS`` see every event of the moderator's console, and
``SEGMENT_SCRIPTS`` give the moderator extra steps in a segment (``polls.py`` uses all three: the
moderator runs a poll in each panel, the attendees answer it, the truth keeps the ballots in
``truth.extra``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import websockets

from server.adapters.clock import ScaledClock
from server.rehearsal.plan import MorningBehaviour, MorningPlan, Person, SegmentPlan, Visit, lateness
from server.rehearsal.wire import CommandRefused, Ledger, Problems, RoundTrip, WireClient

APPROVALS_PER_TURN = 3
EXPECTED_REFUSALS = {"no_live_segment", "not_found", "invalid_transition", "already_waiting", "list_closed"}


@dataclass
class Interval:
    """One connection as the attendee saw it: the server's start lies in [open_lo, open_hi], its
    end in [close_lo, close_hi] (for a drop, from the last frame sent to the cut)."""

    registration_id: int
    open_lo: datetime
    open_hi: datetime
    close_lo: datetime
    close_hi: datetime
    dropped: bool


UNANSWERED = datetime.max.replace(tzinfo=UTC)


@dataclass
class Truth:
    intervals: list[Interval] = field(default_factory=list)
    questions: dict[int, tuple[int, int]] = field(default_factory=dict)  # id -> (asker, segment)
    # text -> (asker, segment) of a question whose answer never came (the tab left, or lost its
    # connection, with it in flight): the server may have it or not
    unsure_questions: dict[str, tuple[int, int]] = field(default_factory=dict)
    # question id -> registration id -> (sent, answered): the server records the vote in between;
    # ``UNANSWERED`` when the answer never came (the server may have recorded it, at any time after)
    votes: dict[int, dict[int, tuple[datetime, datetime]]] = field(default_factory=dict)
    floor_requests: dict[int, int] = field(default_factory=dict)  # entry id -> registration id
    withdrawn: set[int] = field(default_factory=set)  # entry ids
    floor_speakers: dict[str, list[int]] = field(default_factory=dict)  # day -> registration ids granted
    segments: dict[int, tuple[datetime, datetime | None]] = field(default_factory=dict)  # as the events said
    notices: dict[str, float] = field(default_factory=dict)  # text -> monotonic instant it was sent
    fanout_ms: list[float] = field(default_factory=list)
    join_ms: list[float] = field(default_factory=list)
    join_instants: list[float] = field(default_factory=list)  # monotonic, of each successful open
    commands: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Board:
    """What the moderator's console shows, kept from its events: the attendees act on it."""

    live_segment: int | None = None
    published: set[int] = field(default_factory=set)
    pending: dict[int, float] = field(default_factory=dict)  # question id -> monotonic when asked
    approved: set[int] = field(default_factory=set)
    waiting: dict[int, int] = field(default_factory=dict)  # entry id -> registration id (attendees)
    speech: int | None = None


@dataclass
class Stage:
    """What every actor shares: the clock, the server URLs, the ledger, the problems, the truth."""

    clock: ScaledClock
    urls: list[str]
    slug: str
    ledger: Ledger
    problems: Problems
    truth: Truth
    board: Board
    rng: random.Random
    round_trips: list[RoundTrip] = field(default_factory=list)  # one per server URL, while a morning plays

    async def until(self, instant: datetime) -> None:
        """Sleep until the clock shows ``instant`` (virtual)."""
        delay = (self.clock.real_at(instant) - datetime.now(instant.tzinfo)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)

    def client(self, token: str, index: int, *, watch: bool = True) -> WireClient:
        return WireClient(
            base_url=self.urls[index % len(self.urls)],
            slug=self.slug,
            token=token,
            clock=self.clock,
            ledger=self.ledger,
            problems=self.problems,
            on_event=self._attendee_event if watch else None,
            round_trip=self.round_trips[index % len(self.round_trips)] if self.round_trips else None,
        )

    def _attendee_event(self, channel: str, event: dict[str, Any]) -> None:
        if event["type"] == "notice.posted" and event["text"] in self.truth.notices:
            self.truth.fanout_ms.append((event["_received"] - self.truth.notices[event["text"]]) * 1000)


AttendeeHook = Callable[[Stage, WireClient, int, MorningBehaviour], Coroutine[Any, Any, None]]
ATTENDEE_HOOKS: list[AttendeeHook] = []
EventWatcher = Callable[[Stage, str, dict[str, Any]], None]
EVENT_WATCHERS: list[EventWatcher] = []


class SegmentScript(Protocol):
    """Extra steps of the moderator in one segment: ``step`` on each turn of its loop, ``finish``
    before it ends the segment."""

    async def step(self, now: datetime, console: Any) -> None: ...

    async def finish(self, console: Any) -> None: ...


ScriptFactory = Callable[[Stage, SegmentPlan, MorningPlan, datetime, datetime], SegmentScript | None]
SEGMENT_SCRIPTS: list[ScriptFactory] = []


async def refusable(stage: Stage, call: Awaitable[Any]) -> Any:
    """The command's data, or None when it was refused or lost (counted if unexpected)."""
    return (await attempt(stage, call))[1]


async def attempt(stage: Stage, call: Awaitable[Any]) -> tuple[bool | None, Any]:
    """(applied, data) of a command: a refusal the simulated people expect is no problem. ``applied``
    is None when the answer never came (the connection ended first): applied or not, nobody knows."""
    stage.truth.commands += 1
    try:
        return True, await call
    except CommandRefused as exc:
        if exc.code not in EXPECTED_REFUSALS:
            stage.problems.unexpected_errors[f"refused: {exc}"] += 1
        return False, None
    except (ConnectionError, TimeoutError, websockets.ConnectionClosed) as exc:
        stage.problems.unexpected_errors[f"command lost: {type(exc).__name__}"] += 1
        return None, None


async def play_attendee(stage: Stage, person: Person, registration_id: int, token: str, day: str) -> None:
    behaviour = person.mornings[day]
    if not behaviour.visits:
        return
    main = stage.client(token, person.index)
    tabs = [v for v in behaviour.visits if v.tab == 0]
    others = [v for v in behaviour.visits if v.tab == 1]

    async def visits(client: WireClient, planned: list[Visit]) -> None:
        for number, visit in enumerate(planned):
            await stage.until(visit.opens_at)
            started = time.monotonic()
            try:
                opened = await client.open(resume=number > 0)
            except Exception:  # noqa: S112 - counted as refused by the client; the next visit tries again
                continue
            stage.truth.join_ms.append((time.monotonic() - started) * 1000)
            stage.truth.join_instants.append(time.monotonic())
            over = asyncio.Event()
            acting = asyncio.create_task(act(client, over)) if number == 0 and client is main else None
            while await client.lost_before(stage.clock.real_at(visit.ends_at)):
                try:  # closed by the server (it counted as a problem): come back as a browser does
                    last, ended, *reopened = await client.come_back()
                except Exception:  # noqa: BLE001 - counted as refused by the client
                    break
                stage.truth.intervals.append(Interval(registration_id, *opened, last, ended, dropped=True))
                opened = (reopened[0], reopened[1])
            if acting is not None:
                over.set()  # the visit is over even if the cancel is lost (a wait_for that just completed)
                acting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await acting
            closed = await (client.drop() if visit.drops else client.close())
            stage.truth.intervals.append(Interval(registration_id, *opened, *closed, dropped=visit.drops))

    async def act(client: WireClient, over: asyncio.Event) -> None:
        plans: list[tuple[datetime, str]] = [(t, "ask") for t in behaviour.asks] + [
            (t, "vote") for t in behaviour.votes
        ]
        if behaviour.floor_at is not None:
            plans.append((behaviour.floor_at, "floor"))
        hooks = [asyncio.create_task(hook(stage, client, registration_id, behaviour)) for hook in ATTENDEE_HOOKS]
        try:
            for when, what in sorted(plans):
                if over.is_set():
                    return
                await stage.until(when)
                await ACTIONS[what](stage, client, registration_id, behaviour)
            await over.wait()
        finally:
            for hook in hooks:
                hook.cancel()
            if hooks:  # a ballot in flight is answered first
                await asyncio.wait(hooks, timeout=15)

    await asyncio.gather(visits(main, tabs), visits(stage.client(token, person.index + 1), others))


async def _ask(stage: Stage, client: WireClient, registration_id: int, _: MorningBehaviour) -> None:
    segment = stage.board.live_segment
    if segment is None:
        return
    text = f"Question {stage.rng.randrange(10**6)} from delegate {registration_id}: how will this be funded?"
    applied: bool | None = None
    try:
        applied, data = await attempt(
            stage, client.command("question.ask", text=text, anonymous=stage.rng.random() < 0.2)
        )
    finally:  # also when the visit ends (a cancel) with the question in flight
        if applied:
            stage.truth.questions[data["question_id"]] = (registration_id, segment)
        elif applied is None:
            stage.truth.unsure_questions[text] = (registration_id, segment)


async def _vote(stage: Stage, client: WireClient, registration_id: int, _: MorningBehaviour) -> None:
    choices = sorted(q for q in stage.board.published if registration_id not in stage.truth.votes.get(q, {}))
    if not choices:
        return
    question = stage.rng.choice(choices)
    sent = stage.clock.now()
    applied: bool | None = None
    try:
        applied, _ = await attempt(stage, client.command("question.vote", question_id=question, up=True))
    finally:  # also when the visit ends (a cancel) with the vote in flight
        if applied is not False:
            answered = client.soon() if applied else UNANSWERED
            stage.truth.votes.setdefault(question, {})[registration_id] = (sent, answered)


async def _floor(stage: Stage, client: WireClient, registration_id: int, behaviour: MorningBehaviour) -> None:
    data = await refusable(stage, client.command("floor.request", topic="Search and rescue", on_behalf_of="Delegation"))
    if data is None:
        return
    entry = int(data["entry_id"])
    stage.truth.floor_requests[entry] = registration_id
    if behaviour.withdraw_after is not None:
        await stage.until(stage.clock.now() + behaviour.withdraw_after)
        if entry in stage.board.waiting and await refusable(stage, client.command("floor.withdraw")) is not None:
            stage.truth.withdrawn.add(entry)


ACTIONS: dict[str, Callable[[Stage, WireClient, int, MorningBehaviour], Awaitable[None]]] = {
    "ask": _ask,
    "vote": _vote,
    "floor": _floor,
}


# --- the moderator ----------------------------------------------------------------------------------


class _Console:
    """The moderator's client, reconnected (resuming) before a command when the server closed it."""

    def __init__(self, client: WireClient) -> None:
        self.client = client

    async def command(self, type_: str, **fields: Any) -> Any:
        if self.client.lost:
            await self.client.come_back()
        return await self.client.command(type_, **fields)


def moderator_events(stage: Stage) -> Callable[[str, dict[str, Any]], None]:
    board, truth = stage.board, stage.truth

    def seen(channel: str, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "segment.opened":
            board.live_segment = event["segment_id"]
            truth.segments[event["segment_id"]] = (_instant(event["at"]), None)
        elif kind == "segment.ended":
            board.live_segment = None
            opened = truth.segments.get(event["segment_id"], (_instant(event["at"]), None))[0]
            truth.segments[event["segment_id"]] = (opened, _instant(event["at"]))
            board.waiting.clear()
        elif kind == "question.asked":
            board.pending[event["question"]["id"]] = time.monotonic()
        elif kind == "question.published":
            board.published.add(event["question"]["id"])
            board.pending.pop(event["question"]["id"], None)
            board.approved.add(event["question"]["id"])
        elif kind in ("question.unpublished", "question.archived", "question.answered"):
            board.published.discard(event["question_id"])
            board.approved.discard(event["question_id"])
        elif kind == "floor.requested":
            who = event["entry"]["who"] or ""
            if who.startswith("attendee:"):
                board.waiting[event["entry"]["id"]] = int(who.split(":")[1])
        elif kind == "queue.entry_removed":
            board.waiting.pop(event["entry_id"], None)
        elif kind == "speech.started":
            board.speech = event["speech"]["id"]
            if event["speech"]["entry_id"] is not None:
                board.waiting.pop(event["speech"]["entry_id"], None)
        elif kind == "speech.ended":
            board.speech = None
        for watcher in EVENT_WATCHERS:
            watcher(stage, kind, event)

    return seen


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def play_moderator(stage: Stage, console: WireClient, morning: MorningPlan) -> None:
    """Open every segment a little late, give the floor to the programme's people and to waiting
    delegates, approve and answer questions, post a notice, end each segment a little late."""
    rng, board, truth = stage.rng, stage.board, stage.truth
    moderator = _Console(console)
    minute = timedelta(minutes=1)
    previous_end: datetime | None = None
    floor_granted = truth.floor_speakers.setdefault(morning.day, [])
    for index, segment in enumerate(morning.segments):
        opens = segment.starts_at + lateness(rng)
        if previous_end is not None:
            opens = max(opens, previous_end + minute / 2)
        await stage.until(opens)
        await refusable(stage, moderator.command("segment.open", segment_id=segment.id))
        last = index == len(morning.segments) - 1
        ends = max(segment.ends_at + lateness(rng) * (1.5 if last else 1), opens + 5 * minute)
        speakers = list(segment.people)
        turn = max(3 * minute, (ends - opens) / (len(speakers) + 3))
        next_turn = stage.clock.now()
        notice_at = opens + (ends - opens) / 2
        noticed = False
        scripts = [s for make in SEGMENT_SCRIPTS if (s := make(stage, segment, morning, opens, ends)) is not None]
        while stage.clock.now() < ends:
            now = stage.clock.now()
            for script in scripts:
                await script.step(now, moderator)
            # a few approvals a turn, as a person reads them: thousands asking never hold up the segment
            for question, asked in list(board.pending.items())[:APPROVALS_PER_TURN]:
                if time.monotonic() - asked > 0.3:
                    board.pending.pop(question, None)
                    await refusable(stage, moderator.command("question.approve", question_id=question))
            if board.approved and rng.random() < 0.05:
                await refusable(stage, moderator.command("question.answer", question_id=min(board.approved)))
            if now >= next_turn:
                next_turn = now + turn
                waiting = sorted(board.waiting)
                if waiting and (rng.random() < 0.6 or not speakers):
                    entry = waiting[0]
                    asker = board.waiting[entry]
                    data = await refusable(stage, moderator.command("floor.grant", entry_id=entry))
                    if data is not None:
                        floor_granted.append(asker)
                elif speakers:
                    await refusable(stage, moderator.command("floor.grant", person_id=speakers.pop(0)))
                elif board.speech is not None:
                    await refusable(stage, moderator.command("speech.end"))
            if not noticed and now >= notice_at:
                noticed = True
                text = f"Rehearsal notice {segment.key}: the next panel starts after this one."
                truth.notices[text] = time.monotonic()
                await refusable(stage, moderator.command("notice.set", text=text))
            await asyncio.sleep(min(0.25, max(0.05, 30 / stage.clock.speed)))
        for script in scripts:
            await script.finish(moderator)
        await refusable(stage, moderator.command("segment.end", segment_id=segment.id))
        previous_end = stage.clock.now()
