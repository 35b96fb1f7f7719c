"""Live polls: prepared on a segment, opened, voted on by attendees, closed, results published.

Life of a poll: draft (staff only) → open (public, taking ballots) → closed. Publishing its
results is separate: allowed while open (everyone then follows the counts live) or once closed;
a poll whose results are not published keeps them for the staff. At most one poll is open at a
time, so the attendee page shows "the" open poll; ending its segment closes it.

Ballots follow the Q&A vote pattern: the service keeps one row per (poll, attendee), replaced by
a new ballot while the poll is open, because ballots are the high-rate path and must not
serialise on the live state. The core checks a ballot (``check_ballot``) and turns the service's
coalesced counts into ``poll.tallied`` (staff) and, once published, ``poll.results_updated``
(public) with ``record_tallies``. Before closing and publishing, the service records the exact
count, so closed and published results are the ballots, not a coalesced approximation.

An anonymous poll's tally never names anyone (``named`` stays empty): nobody, staff included,
sees who chose what.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from server.core.model import (
    DraftPoll,
    NamedBallot,
    PollClose,
    PollClosed,
    PollDiscard,
    PollDiscarded,
    PollLaunched,
    PollOpen,
    PollOpened,
    PollOption,
    PollPrepare,
    PollPrepared,
    PollPublish,
    PollResults,
    PollResultsPublished,
    PollResultsUpdated,
    PollTallied,
    PollTally,
    PollVote,
    PublicPoll,
    PublicState,
    StaffState,
)
from server.core.model.events import PublicPollEvent, StaffPollEvent
from server.core.model.polls import empty_results
from server.core.stage import segment_in_progress
from server.core.state import Actor, InconsistentEvent
from server.core.tx import Transaction, reject

# -- reading the state ----------------------------------------------------------------------------


def public_poll(public: PublicState, poll_id: int) -> PublicPoll | None:
    return next((p for p in public.polls if p.id == poll_id), None)


def draft_poll(staff: StaffState, poll_id: int) -> DraftPoll | None:
    return next((p for p in staff.draft_polls if p.id == poll_id), None)


def open_poll(public: PublicState) -> PublicPoll | None:
    return next((p for p in public.polls if p.status == "open"), None)


def results_of(tally: PollTally) -> PollResults:
    """The public part of a tally: never who voted."""
    return PollResults(ballots=tally.ballots, counts=dict(tally.counts))


# -- applying events ------------------------------------------------------------------------------


def _replace(polls: tuple[PublicPoll, ...], poll: PublicPoll) -> tuple[PublicPoll, ...]:
    return tuple(sorted([p for p in polls if p.id != poll.id] + [poll], key=lambda p: p.id))


def _opened(state: PublicState, poll_id: int) -> PublicPoll:
    poll = public_poll(state, poll_id)
    if poll is None:
        raise InconsistentEvent(f"poll {poll_id} is not opened")
    return poll


def apply_public_polls(state: PublicState, event: PublicPollEvent) -> PublicState:
    match event:
        case PollOpened():
            if public_poll(state, event.poll.id) is not None:
                raise InconsistentEvent(f"poll {event.poll.id} is already opened")
            return state.model_copy(update={"polls": _replace(state.polls, event.poll)})
        case PollClosed():
            poll = _opened(state, event.poll_id)
            if poll.status != "open":
                raise InconsistentEvent(f"poll {event.poll_id} is not open")
            closed = poll.model_copy(update={"status": "closed", "closed_at": event.at})
            return state.model_copy(update={"polls": _replace(state.polls, closed)})
        case PollResultsPublished():
            poll = _opened(state, event.poll_id)
            if poll.results is not None:
                raise InconsistentEvent(f"poll {event.poll_id} results are already published")
            return state.model_copy(
                update={"polls": _replace(state.polls, poll.model_copy(update={"results": event.results}))}
            )
        case PollResultsUpdated():
            poll = _opened(state, event.poll_id)
            if poll.results is None:
                raise InconsistentEvent(f"poll {event.poll_id} results are not published")
            return state.model_copy(
                update={"polls": _replace(state.polls, poll.model_copy(update={"results": event.results}))}
            )


def apply_staff_polls(state: StaffState, event: StaffPollEvent) -> StaffState:
    match event:
        case PollPrepared():
            if draft_poll(state, event.poll.id) is not None or event.poll.id in state.poll_tallies:
                raise InconsistentEvent(f"poll {event.poll.id} exists already")
            drafts = tuple(sorted((*state.draft_polls, event.poll), key=lambda p: p.id))
            return state.model_copy(update={"draft_polls": drafts})
        case PollDiscarded() | PollLaunched():
            draft = draft_poll(state, event.poll_id)
            if draft is None:
                raise InconsistentEvent(f"poll {event.poll_id} is not a draft")
            drafts = tuple(p for p in state.draft_polls if p.id != event.poll_id)
            if isinstance(event, PollDiscarded):
                return state.model_copy(update={"draft_polls": drafts})
            tally = PollTally(counts=empty_results(draft.options).counts)
            return state.model_copy(
                update={"draft_polls": drafts, "poll_tallies": {**state.poll_tallies, draft.id: tally}}
            )
        case PollTallied():
            current = state.poll_tallies.get(event.poll_id)
            if current is None:
                raise InconsistentEvent(f"poll {event.poll_id} has no tally")
            named = {b.who: b for b in current.named} | {b.who: b for b in event.named}
            tally = PollTally(
                ballots=event.ballots,
                counts=dict(event.counts),
                named=tuple(named[who] for who in sorted(named)),
            )
            return state.model_copy(update={"poll_tallies": {**state.poll_tallies, event.poll_id: tally}})


# -- deciding -------------------------------------------------------------------------------------


def _find(tx: Transaction, poll_id: int) -> tuple[DraftPoll | None, PublicPoll | None]:
    draft, opened = draft_poll(tx.staff, poll_id), public_poll(tx.public, poll_id)
    if draft is None and opened is None:
        reject("not_found", f"there is no poll {poll_id}")
    return draft, opened


def _opened_poll(tx: Transaction, poll_id: int) -> PublicPoll:
    _, opened = _find(tx, poll_id)
    if opened is None:
        reject("invalid_transition", f"poll {poll_id} is a draft: open it first")
    return opened


def prepare_poll(tx: Transaction, command: PollPrepare, actor: Actor) -> None:
    segment = next((s for s in tx.public.segments if s.id == command.segment_id), None)
    if segment is None:
        reject("not_found", f"there is no segment {command.segment_id}")
    if segment.status == "ended":
        reject("invalid_transition", f"segment {segment.id} has ended")
    poll = DraftPoll(
        id=tx.allocate("poll"),
        segment_id=segment.id,
        question=command.question,
        choice=command.choice,
        anonymous=command.anonymous,
        options=tuple(PollOption(id=n, text=text) for n, text in enumerate(command.options, start=1)),
        prepared_by=actor.who,
        prepared_at=tx.now,
    )
    tx.emit(PollPrepared(poll=poll))


def discard_poll(tx: Transaction, command: PollDiscard, actor: Actor) -> None:
    draft, _ = _find(tx, command.poll_id)
    if draft is None:
        reject("invalid_transition", f"poll {command.poll_id} has been opened: it can no longer be discarded")
    tx.emit(PollDiscarded(poll_id=draft.id, by=actor.who, at=tx.now))


def open_poll_for_ballots(tx: Transaction, command: PollOpen, actor: Actor) -> None:
    draft, _ = _find(tx, command.poll_id)
    if draft is None:
        reject("invalid_transition", f"poll {command.poll_id} has been opened already")
    segment = segment_in_progress(tx.public)
    if segment is None or segment.id != draft.segment_id:
        reject("invalid_transition", f"the segment of poll {draft.id} is not live")
    already = open_poll(tx.public)
    if already is not None:
        reject("invalid_transition", f"poll {already.id} is open: close it first")
    tx.emit(PollLaunched(poll_id=draft.id, by=actor.who, at=tx.now))
    tx.emit(
        PollOpened(
            poll=PublicPoll(
                id=draft.id,
                segment_id=draft.segment_id,
                question=draft.question,
                choice=draft.choice,
                anonymous=draft.anonymous,
                options=draft.options,
                opened_at=tx.now,
            )
        )
    )


def close_poll(tx: Transaction, command: PollClose, actor: Actor) -> None:
    poll = _opened_poll(tx, command.poll_id)
    if poll.status == "open":
        tx.emit(PollClosed(poll_id=poll.id, at=tx.now))


def close_with_segment(tx: Transaction, segment_id: int) -> None:
    """Ending a segment closes its open poll: no ballots once the segment is over. (If the
    segment cannot end, ``decide`` rejects the command and this is undone with the rest.)"""
    poll = open_poll(tx.public)
    if poll is not None and poll.segment_id == segment_id:
        tx.emit(PollClosed(poll_id=poll.id, at=tx.now))


def publish_results(tx: Transaction, command: PollPublish, actor: Actor) -> None:
    poll = _opened_poll(tx, command.poll_id)
    if poll.results is None:
        results = results_of(tx.staff.poll_tallies[poll.id])
        tx.emit(PollResultsPublished(poll_id=poll.id, results=results, at=tx.now))


def check_ballot(tx: Transaction, command: PollVote, actor: Actor) -> None:
    """A ballot the service may record: an open poll, options it has, one option if single choice."""
    if actor.kind != "attendee":
        reject("forbidden", "only attendees vote in polls")
    poll = public_poll(tx.public, command.poll_id)
    if poll is None:
        reject("not_found", f"poll {command.poll_id} is not open")
    if poll.status != "open":
        reject("invalid_transition", f"poll {poll.id} is closed")
    known = {o.id for o in poll.options}
    unknown = sorted(set(command.option_ids) - known)
    if unknown:
        reject("not_found", f"poll {poll.id} has no option {unknown[0]}")
    if poll.choice == "single" and len(command.option_ids) != 1:
        reject("invalid", f"poll {poll.id} is single choice: choose exactly one option")


def tally_of(
    poll: PublicPoll, ballots: Mapping[str, Sequence[int]], names: Mapping[str, tuple[str, str | None]]
) -> PollTally:
    """The exact tally of ``poll`` from its ballots (person reference → option ids) and, for a named
    poll, the voters' names (person reference → (name, organisation)). Options the poll does not
    have are ignored; an anonymous poll's tally names nobody."""
    known = {o.id for o in poll.options}
    counts = {o.id: 0 for o in poll.options}
    for option_ids in ballots.values():
        for option_id in set(option_ids) & known:
            counts[option_id] += 1
    named: tuple[NamedBallot, ...] = ()
    if not poll.anonymous:
        named = tuple(
            NamedBallot(
                who=who,
                name=names.get(who, (who, None))[0],
                organisation=names.get(who, (who, None))[1],
                option_ids=tuple(sorted(set(option_ids) & known)),
            )
            for who, option_ids in sorted(ballots.items())
        )
    return PollTally(ballots=len(ballots), counts=counts, named=named)


def record_tallies(tx: Transaction, tallies: Mapping[int, PollTally]) -> None:
    """Publish the tallies that changed (``poll.tallied``) and, for published polls, their new
    results (``poll.results_updated``). Polls not opened are skipped."""
    for poll_id, tally in sorted(tallies.items()):
        poll = public_poll(tx.public, poll_id)
        current = tx.staff.poll_tallies.get(poll_id)
        if poll is None or current is None or current == tally:
            continue
        shown = set(current.named)  # a ballot is replaced, never withdrawn: only new or changed ones
        changed = tuple(b for b in tally.named if b not in shown)
        tx.emit(PollTallied(poll_id=poll_id, ballots=tally.ballots, counts=dict(tally.counts), named=changed))
        results = results_of(tally)
        if poll.results is not None and poll.results != results:
            tx.emit(PollResultsUpdated(poll_id=poll_id, results=results))
