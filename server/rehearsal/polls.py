"""Polls in a rehearsal: the moderator runs one in each panel, the attendees connected answer it
(some change their answer while it is open), the truth keeps each attendee's final ballot, and a
check compares the report's poll tables with it.

Wired in by ``install()``: an attendee hook (``actors.ATTENDEE_HOOKS``), a watcher of the
moderator's events (``actors.EVENT_WATCHERS``) and a segment script (``actors.SEGMENT_SCRIPTS``).

The moderator alternates anonymous and named polls, single and multiple choice: the 1st poll is
anonymous single, the 2nd named multiple, the 3rd anonymous multiple, the 4th named single, and so
on. It prepares the poll when the segment opens, opens it a quarter into the segment, closes it at
60 % and publishes the results right after, before the segment ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import websockets

from server.rehearsal import actors
from server.rehearsal.actors import EXPECTED_REFUSALS, Stage
from server.rehearsal.plan import MorningBehaviour, MorningPlan, SegmentPlan
from server.rehearsal.wire import CommandRefused, WireClient

ANSWER_SHARE = 0.75  # of the attendees connected when a poll opens, this many answer it
CHANGE_SHARE = 0.2  # of those, this many change their answer while it is open
MIN_GROUP = 3  # the fewest ballots an anonymous poll's category row may count (docs/reports.md)
NO_CATEGORY = "(none)"
OPTIONS = ("Strongly agree", "Agree", "Neutral", "Disagree")

Ballot = tuple[int, ...]


@dataclass
class PollPlan:
    poll_id: int
    segment_id: int
    question: str
    anonymous: bool
    choice: str
    option_ids: tuple[int, ...]
    opened: bool = False
    closed: bool = False
    published: bool = False


@dataclass
class PollTruth:
    polls: dict[int, PollPlan] = field(default_factory=dict)
    ballots: dict[int, dict[int, Ballot]] = field(default_factory=dict)  # poll -> registration -> final ballot
    # a ballot whose answer never came (the connection was lost): it may or may not be the final one
    uncertain: dict[int, dict[int, set[Ballot]]] = field(default_factory=dict)
    open_poll: PollPlan | None = None
    signal: asyncio.Event = field(default_factory=asyncio.Event)  # set (and replaced) when a poll opens


def poll_truth(stage: Stage) -> PollTruth:
    truth = stage.truth.extra.setdefault("polls", PollTruth())
    assert isinstance(truth, PollTruth)
    return truth


# --- the moderator ----------------------------------------------------------------------------------


def in_panel(segment: SegmentPlan, morning: MorningPlan) -> bool:
    """Polls run in the panels; a programme without panels has one in every segment."""
    panels = [s for s in morning.segments if "panel" in s.key]
    return segment in panels if panels else True


class PollScript:
    """One poll in one segment, stepped by the moderator's loop."""

    def __init__(self, stage: Stage, segment: SegmentPlan, opens: datetime, ends: datetime) -> None:
        self.stage = stage
        self.segment = segment
        self.open_at = opens + (ends - opens) * 0.25
        self.close_at = opens + (ends - opens) * 0.6
        self.plan: PollPlan | None = None
        self.done = False

    async def step(self, now: datetime, console: Any) -> None:
        truth = poll_truth(self.stage)
        if self.plan is None and not self.done:
            number = len(truth.polls)
            anonymous, choice = number % 2 == 0, ("multiple" if number % 4 in (1, 2) else "single")
            question = f"Poll {number + 1} ({self.segment.key}): should the next session focus on funding?"
            data = await actors.refusable(
                self.stage,
                console.command(
                    "poll.prepare",
                    segment_id=self.segment.id,
                    question=question,
                    options=list(OPTIONS),
                    choice=choice,
                    anonymous=anonymous,
                ),
            )
            if data is None:
                self.done = True
                return
            self.plan = PollPlan(
                int(data["poll_id"]), self.segment.id, question, anonymous, choice, tuple(range(1, len(OPTIONS) + 1))
            )
            truth.polls[self.plan.poll_id] = self.plan
        elif self.plan is not None and not self.plan.opened and now >= self.open_at:
            opened, _ = await actors.attempt(self.stage, console.command("poll.open", poll_id=self.plan.poll_id))
            if not opened:
                self.plan, self.done = None, True
                return
            self.plan.opened = True
        elif self.plan is not None and self.plan.opened and not self.done and now >= self.close_at:
            await self.finish(console)

    async def finish(self, console: Any) -> None:
        """Close and publish before the segment ends."""
        if self.plan is None or self.done or not self.plan.opened:
            self.done = True
            return
        self.done = True
        closed, _ = await actors.attempt(self.stage, console.command("poll.close", poll_id=self.plan.poll_id))
        self.plan.closed = bool(closed)
        published, _ = await actors.attempt(self.stage, console.command("poll.publish", poll_id=self.plan.poll_id))
        self.plan.published = bool(published)


def poll_script(stage: Stage, segment: SegmentPlan, morning: MorningPlan, opens: datetime, ends: datetime) -> Any:
    return PollScript(stage, segment, opens, ends) if in_panel(segment, morning) else None


def watch_polls(stage: Stage, kind: str, event: dict[str, Any]) -> None:
    """The moderator's console shows which poll is open: the attendees answer that one."""
    truth = poll_truth(stage)
    if kind == "poll.opened":
        truth.open_poll = truth.polls.get(event["poll"]["id"])
        signal, truth.signal = truth.signal, asyncio.Event()
        signal.set()
    elif kind == "poll.closed" and truth.open_poll is not None and truth.open_poll.poll_id == event["poll_id"]:
        truth.open_poll = None


# --- the attendees ----------------------------------------------------------------------------------


async def answer_polls(stage: Stage, client: WireClient, registration_id: int, _: MorningBehaviour) -> None:
    """While connected: answer most polls that open, some change their answer while it is open."""
    truth = poll_truth(stage)
    rng = random.Random(f"{stage.slug} {registration_id} {stage.clock.now().date()}")
    seen: set[int] = set()
    while True:
        signal, poll = truth.signal, truth.open_poll
        if poll is None or poll.poll_id in seen:
            await signal.wait()
            continue
        seen.add(poll.poll_id)
        if rng.random() >= ANSWER_SHARE:
            continue
        await stage.until(stage.clock.now() + timedelta(minutes=rng.uniform(0.3, 6)))
        if await _cast(stage, client, registration_id, poll, rng) and rng.random() < CHANGE_SHARE:
            await stage.until(stage.clock.now() + timedelta(minutes=rng.uniform(1, 5)))
            await _cast(stage, client, registration_id, poll, rng)


def _ballot(poll: PollPlan, rng: random.Random) -> Ballot:
    if poll.choice == "single":
        return (rng.choice(poll.option_ids),)
    return tuple(sorted(rng.sample(poll.option_ids, rng.randint(1, len(poll.option_ids)))))


async def _cast(stage: Stage, client: WireClient, registration_id: int, poll: PollPlan, rng: random.Random) -> bool:
    """Send a ballot; the truth takes it as final once its result came. A tab closing meanwhile
    waits for the answer first (the hook is cancelled, the command is not)."""
    truth = poll_truth(stage)
    ballot = _ballot(poll, rng)
    stage.truth.commands += 1
    sending = asyncio.ensure_future(client.command("poll.vote", poll_id=poll.poll_id, option_ids=list(ballot)))
    try:
        await asyncio.shield(sending)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sending, 10)
        if not sending.done():
            sending.cancel()
        _record(stage, truth, registration_id, poll, ballot, sending)
        raise
    except Exception:  # noqa: BLE001, S110 - recorded below from the future's outcome
        pass
    return _record(stage, truth, registration_id, poll, ballot, sending)


def _record(
    stage: Stage, truth: PollTruth, registration_id: int, poll: PollPlan, ballot: Ballot, sent: asyncio.Future[Any]
) -> bool:
    if sent.done() and not sent.cancelled() and sent.exception() is None:
        truth.ballots.setdefault(poll.poll_id, {})[registration_id] = ballot
        truth.uncertain.get(poll.poll_id, {}).pop(registration_id, None)
        return True
    error = None if sent.cancelled() or not sent.done() else sent.exception()
    if isinstance(error, CommandRefused):
        if error.code not in EXPECTED_REFUSALS:
            stage.problems.unexpected_errors[f"refused: {error}"] += 1
        return False
    if error is None or isinstance(error, (ConnectionError, TimeoutError, websockets.ConnectionClosed)):
        stage.problems.unexpected_errors[f"command lost: {type(error).__name__ if error else 'cancelled'}"] += 1
        known = truth.ballots.get(poll.poll_id, {}).get(registration_id)
        options = truth.uncertain.setdefault(poll.poll_id, {}).setdefault(registration_id, set())
        options |= {ballot, *((known,) if known else ())}
        return False
    stage.problems.unexpected_errors[f"poll.vote: {type(error).__name__}: {error}"] += 1
    return False


def install() -> None:
    """Add the polls to the simulated people (once)."""
    if answer_polls not in actors.ATTENDEE_HOOKS:
        actors.ATTENDEE_HOOKS.append(answer_polls)
    if watch_polls not in actors.EVENT_WATCHERS:
        actors.EVENT_WATCHERS.append(watch_polls)
    if poll_script not in actors.SEGMENT_SCRIPTS:
        actors.SEGMENT_SCRIPTS.append(poll_script)


# --- the check --------------------------------------------------------------------------------------


def category_groups(by_category: dict[str, list[Ballot]], *, anonymous: bool) -> dict[str, list[Ballot]]:
    """The report's rows by category (docs/reports.md): an anonymous poll pools categories under
    ``MIN_GROUP`` ballots, adds the smallest other one while the pool is still under it, and names
    the pool "(all categories: …)" when nothing is left outside it."""
    groups = sorted(by_category.items(), key=lambda item: (-len(item[1]), item[0]))
    if not anonymous:
        return dict(groups)
    large = [g for g in groups if len(g[1]) >= MIN_GROUP]
    small = [g for g in groups if len(g[1]) < MIN_GROUP]
    if not small:
        return dict(large)
    while sum(len(g[1]) for g in small) < MIN_GROUP and large:
        small.append(large.pop())
    names = ", ".join(sorted(name for name, _ in small))
    label = f"(other categories: {names})" if large else f"(all categories: {names})"
    return {**dict(large), label: [b for _, ballots in small for b in ballots]}


def check_polls(
    check: Any,
    morning: MorningPlan,
    tables: dict[str, list[dict[str, str]]],
    truth: PollTruth | None,
    categories: dict[int, str],
) -> dict[str, Any]:
    """The report's poll tables of one morning against the truth: each poll opened, its settings,
    ballots and votes per option; the ballots of named polls (none of anonymous ones); the counts by
    category with the pooling rule. Returns the figures."""
    segment_ids = {s.id for s in morning.segments}
    polls = {p.poll_id: p for p in (truth.polls.values() if truth else ()) if p.opened and p.segment_id in segment_ids}
    rows: defaultdict[int, list[dict[str, str]]] = defaultdict(list)
    for row in tables.get("polls", []):
        rows[int(row["poll_id"])].append(row)
    if set(rows) != set(polls):
        check.fail(f"polls: report {sorted(rows)}, truth {sorted(polls)}")
    named_rows: defaultdict[int, dict[int, Ballot]] = defaultdict(dict)
    for row in tables.get("poll_ballots", []):
        named_rows[int(row["poll_id"])][int(row["registration_id"])] = tuple(int(o) for o in row["option_ids"].split())
    category_rows: defaultdict[int, dict[tuple[str, int], tuple[int, int]]] = defaultdict(dict)
    for row in tables.get("poll_categories", []):
        key = (row["category"], int(row["option_id"]))
        category_rows[int(row["poll_id"])][key] = (int(row["ballots"]), int(row["votes"]))
    ballots_total = 0
    for poll_id, poll in polls.items():
        assert truth is not None
        final = truth.ballots.get(poll_id, {})
        unsure = truth.uncertain.get(poll_id, {})
        sure = {r: b for r, b in final.items() if r not in unsure}
        counts = Counter(o for b in sure.values() for o in b)
        reported = {int(r["option_id"]): r for r in rows.get(poll_id, [])}
        if set(reported) != set(poll.option_ids):
            check.fail(f"poll {poll_id}: options {sorted(reported)} in the report, truth {list(poll.option_ids)}")
        for option_id, row in reported.items():
            votes, voters = int(row["votes"]), int(row["ballots"])
            if not counts[option_id] <= votes <= counts[option_id] + len(unsure):
                check.fail(f"poll {poll_id} option {option_id}: {votes} votes in the report, truth {counts[option_id]}")
            if not len(sure) <= voters <= len(sure) + len(unsure):
                check.fail(f"poll {poll_id}: {voters} ballots in the report, truth {len(sure)}")
            wanted = {
                "choice": poll.choice,
                "ballot": "anonymous" if poll.anonymous else "named",
                "results": "published" if poll.published else "staff only",
            }
            for column, value in wanted.items():
                if row.get(column) != value:
                    check.fail(f"poll {poll_id}: {column} {row.get(column)!r} in the report, truth {value!r}")
        ballots_total += int(next(iter(reported.values()))["ballots"]) if reported else 0
        listed = named_rows.get(poll_id, {})
        if poll.anonymous and listed:
            check.fail(f"poll {poll_id} is anonymous but the report lists {len(listed)} ballots")
        if not poll.anonymous and ({r: b for r, b in listed.items() if r not in unsure} != sure):
            check.fail(f"poll {poll_id}: the report's named ballots differ from the truth ({len(listed)}, {len(sure)})")
        if unsure:
            continue  # the counts by category cannot be told exactly
        by_category: defaultdict[str, list[Ballot]] = defaultdict(list)
        for registration_id, ballot in sure.items():
            by_category[categories.get(registration_id) or NO_CATEGORY].append(ballot)
        expected = {
            (label, option_id): (len(group), sum(1 for b in group if option_id in b))
            for label, group in category_groups(by_category, anonymous=poll.anonymous).items()
            for option_id in poll.option_ids
        }
        if category_rows.get(poll_id, {}) != expected:
            got = sorted({label for label, _ in category_rows.get(poll_id, {})})
            check.fail(f"poll {poll_id}: counts by category differ from the truth (report's rows {got[:4]})")
    return {"polls": len(rows), "poll_ballots": ballots_total}
