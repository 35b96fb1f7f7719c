"""Poll rules: the guards of each command, the ballot checks, exact tallies, and what each channel sees."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from server.core import CommandRejected, personal_view, record_poll_tallies
from server.core.polls import tally_of
from server.protocol import PollTally, ProtocolError, parse_command
from tests.core.cases import NAMED_DRAFT, OPEN_POLL, SPARE_DRAFT, poll_closed, with_polls
from tests.core.helpers import (
    ATTENDEE,
    ATTENDEE_2,
    CLOSING_ID,
    MODERATOR,
    OPENING_ID,
    ORGANISER,
    PANEL_ID,
    act,
    assert_folds,
    at,
    command,
    fresh,
    live_panel,
    types,
)


def _prepare(**fields: object) -> dict[str, object]:
    return {"segment_id": PANEL_ID, "question": "Renew the mandate?", "options": ["Yes", "No"], **fields}


def _code(state, kind, actor=MODERATOR, **fields) -> str:
    with pytest.raises(CommandRejected) as rejected:
        act(state, kind, actor, at(60), **fields)
    return rejected.value.code


# -- preparing: the command's own guards ------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        ["Only one"],
        [f"Option {n}" for n in range(11)],
        ["Yes", "yes"],
        ["Yes", "  YES "],
        ["Same  words", "same words"],
        ["Yes", ""],
        ["Yes", "   "],
        ["Yes", "x" * 121],
        ["Yes", "two\nlines"],
    ],
)
def test_a_poll_needs_two_to_ten_distinct_one_line_options(options: list[str]) -> None:
    with pytest.raises(ValidationError):
        command("poll.prepare", **_prepare(options=options))


@pytest.mark.parametrize("question", ["", "   ", "x" * 301, "two\nlines", "bell\x07"])
def test_a_poll_question_is_one_line_of_1_to_300_characters(question: str) -> None:
    with pytest.raises(ValidationError):
        command("poll.prepare", **_prepare(question=question))


def test_ten_options_of_120_characters_are_accepted_and_numbered_in_order() -> None:
    options = [f"{n:03d}" + "x" * 117 for n in range(10)]
    state, emitted = act(live_panel(), "poll.prepare", **_prepare(options=options, choice="multiple"))
    draft = state.staff.draft_polls[0]
    assert [o.id for o in draft.options] == list(range(1, 11))
    assert [o.text for o in draft.options] == options
    assert (draft.choice, draft.anonymous, draft.prepared_by) == ("multiple", True, MODERATOR.who)
    assert draft.prepared_at == at(1)
    assert types(emitted) == [("staff", "poll.prepared")]
    assert state.public.polls == ()


def test_a_ballot_frame_names_each_option_once() -> None:
    frame = '{"type": "poll.vote", "cid": "c1", "poll_id": 1, "option_ids": [1, 1]}'
    with pytest.raises(ProtocolError) as refused:
        parse_command(frame)
    assert refused.value.code == "invalid"


def test_polls_are_prepared_on_segments_not_ended() -> None:
    assert _code(live_panel(), "poll.prepare", **_prepare(segment_id=99)) == "not_found"
    state, _ = act(fresh(), "segment.open", now=at(0), segment_id=OPENING_ID)
    state, _ = act(state, "segment.end", now=at(20), segment_id=OPENING_ID)
    assert _code(state, "poll.prepare", **_prepare(segment_id=OPENING_ID)) == "invalid_transition"
    state, _ = act(state, "poll.prepare", **_prepare(segment_id=CLOSING_ID))  # scheduled: fine
    assert state.staff.draft_polls[0].segment_id == CLOSING_ID


# -- the life of a poll -----------------------------------------------------------------------------


def test_open_needs_a_draft_of_the_live_segment_and_no_other_open_poll() -> None:
    state = with_polls()
    assert _code(state, "poll.open", poll_id=NAMED_DRAFT) == "invalid_transition"  # poll 1 is open
    assert _code(state, "poll.open", poll_id=OPEN_POLL) == "invalid_transition"  # opened already
    assert _code(state, "poll.open", poll_id=42) == "not_found"
    closed = poll_closed()
    assert _code(closed, "poll.open", poll_id=SPARE_DRAFT) == "invalid_transition"  # the closing's poll
    opened, emitted = act(closed, "poll.open", now=at(61), poll_id=NAMED_DRAFT)
    assert types(emitted) == [("staff", "poll.launched"), ("public", "poll.opened")]
    poll = opened.public.polls[-1]
    assert (poll.id, poll.status, poll.results, poll.opened_at) == (NAMED_DRAFT, "open", None, at(61))
    assert opened.staff.poll_tallies[NAMED_DRAFT] == PollTally(counts={1: 0, 2: 0, 3: 0})
    assert [p.id for p in opened.staff.draft_polls] == [SPARE_DRAFT]


def test_discard_only_drafts() -> None:
    state = with_polls()
    assert _code(state, "poll.discard", poll_id=OPEN_POLL) == "invalid_transition"
    state, emitted = act(state, "poll.discard", poll_id=SPARE_DRAFT)
    assert types(emitted) == [("staff", "poll.discarded")]
    assert _code(state, "poll.discard", poll_id=SPARE_DRAFT) == "not_found"


def test_close_and_publish_are_no_ops_when_done_and_refused_for_drafts() -> None:
    state = poll_closed()
    assert act(state, "poll.close", poll_id=OPEN_POLL)[1] == []
    assert _code(state, "poll.close", poll_id=NAMED_DRAFT) == "invalid_transition"
    assert _code(state, "poll.publish", poll_id=NAMED_DRAFT) == "invalid_transition"
    state, emitted = act(state, "poll.publish", poll_id=OPEN_POLL)
    assert types(emitted) == [("public", "poll.results_published")]
    assert state.public.polls[0].results is not None
    assert state.public.polls[0].results.model_dump() == {"ballots": 1, "counts": {1: 1, 2: 0}}
    assert act(state, "poll.publish", poll_id=OPEN_POLL)[1] == []


def test_ending_the_segment_closes_its_open_poll_first() -> None:
    state, emitted = act(with_polls(), "segment.end", now=at(70), segment_id=PANEL_ID)
    assert types(emitted)[0] == ("public", "poll.closed")
    assert ("public", "segment.ended") in types(emitted)
    assert state.public.polls[0].status == "closed" and state.public.polls[0].closed_at == at(70)
    state, emitted = act(poll_closed(), "segment.end", now=at(70), segment_id=PANEL_ID)
    assert "poll.closed" not in [kind for _, kind in types(emitted)]


# -- ballots ----------------------------------------------------------------------------------------


def test_ballots_are_checked_against_the_open_poll() -> None:
    state = with_polls()
    act(state, "poll.vote", ATTENDEE, poll_id=OPEN_POLL, option_ids=[1])  # fine, and silent
    assert _code(state, "poll.vote", ATTENDEE, poll_id=OPEN_POLL, option_ids=[1, 2]) == "invalid"  # single
    assert _code(state, "poll.vote", ATTENDEE, poll_id=OPEN_POLL, option_ids=[3]) == "not_found"
    assert _code(state, "poll.vote", ATTENDEE, poll_id=NAMED_DRAFT, option_ids=[1]) == "not_found"  # a draft
    assert _code(poll_closed(), "poll.vote", ATTENDEE, poll_id=OPEN_POLL, option_ids=[1]) == "invalid_transition"
    for staff in (MODERATOR, ORGANISER):
        assert _code(state, "poll.vote", staff, poll_id=OPEN_POLL, option_ids=[1]) == "forbidden"


def test_a_multiple_choice_ballot_takes_one_to_all_options() -> None:
    state, _ = act(poll_closed(), "poll.open", poll_id=NAMED_DRAFT)
    for chosen in ([1], [3, 1], [1, 2, 3]):
        act(state, "poll.vote", ATTENDEE, poll_id=NAMED_DRAFT, option_ids=chosen)
    with pytest.raises(ValidationError):
        command("poll.vote", poll_id=NAMED_DRAFT, option_ids=[])


# -- tallies ----------------------------------------------------------------------------------------


def test_tallies_are_exact_and_name_voters_only_in_named_polls() -> None:
    state, _ = act(poll_closed(), "poll.open", poll_id=NAMED_DRAFT)
    named_poll = state.public.polls[-1]
    anonymous_poll = state.public.polls[0]
    ballots = {ATTENDEE.who: (1, 3), ATTENDEE_2.who: (3,)}
    names = {ATTENDEE.who: ("Ana Attendee", "Ruritania"), ATTENDEE_2.who: ("Ben Attendee", None)}
    named = tally_of(named_poll, ballots, names)
    assert (named.ballots, named.counts) == (2, {1: 1, 2: 0, 3: 2})
    assert [(b.who, b.name, b.option_ids) for b in named.named] == [
        (ATTENDEE.who, "Ana Attendee", (1, 3)),
        (ATTENDEE_2.who, "Ben Attendee", (3,)),
    ]
    anonymous = tally_of(anonymous_poll, {ATTENDEE.who: (2,), ATTENDEE_2.who: (2,)}, names)
    assert (anonymous.ballots, anonymous.counts, anonymous.named) == (2, {1: 0, 2: 2}, ())


def test_tallies_reach_the_public_only_once_published() -> None:
    state = with_polls()
    tally = PollTally(ballots=2, counts={1: 1, 2: 1})
    new, emitted = record_poll_tallies(state, {OPEN_POLL: tally}, now=at(50))
    assert types(emitted) == [("staff", "poll.tallied")]
    assert_folds(state, new, emitted)
    assert record_poll_tallies(new, {OPEN_POLL: tally}, now=at(51))[1] == []  # unchanged: nothing
    published, _ = act(new, "poll.publish", poll_id=OPEN_POLL)
    later = PollTally(ballots=3, counts={1: 2, 2: 1})
    final, emitted = record_poll_tallies(published, {OPEN_POLL: later, 99: later}, now=at(52))
    assert types(emitted) == [("staff", "poll.tallied"), ("public", "poll.results_updated")]
    assert_folds(published, final, emitted)
    assert final.public.polls[0].results.model_dump() == {"ballots": 3, "counts": {1: 2, 2: 1}}


def test_a_named_tally_event_carries_only_the_ballots_new_or_changed() -> None:
    state, _ = act(poll_closed(), "poll.open", poll_id=NAMED_DRAFT)
    poll = state.public.polls[-1]
    names = {ATTENDEE.who: ("Ana Attendee", "Ruritania"), ATTENDEE_2.who: ("Ben Attendee", None)}
    steps = [
        ({ATTENDEE.who: (1,)}, [ATTENDEE.who]),
        ({ATTENDEE.who: (1,), ATTENDEE_2.who: (2, 3)}, [ATTENDEE_2.who]),  # Ben is new
        ({ATTENDEE.who: (3,), ATTENDEE_2.who: (2, 3)}, [ATTENDEE.who]),  # Ana changed her mind
    ]
    for ballots, carried in steps:
        new, emitted = record_poll_tallies(state, {NAMED_DRAFT: tally_of(poll, ballots, names)}, now=at(50))
        [(_, event)] = emitted
        assert [b.who for b in event.named] == carried
        assert_folds(state, new, emitted)
        assert new.staff.poll_tallies[NAMED_DRAFT] == tally_of(poll, ballots, names), "the merge is the whole tally"
        state = new


def test_my_ballot_is_in_my_snapshot_for_opened_polls_only() -> None:
    state = with_polls()
    me = personal_view(state, ATTENDEE, ballots={OPEN_POLL: [2], NAMED_DRAFT: [1]})
    assert me.ballots == {OPEN_POLL: (2,)}
    assert personal_view(state, ATTENDEE_2).ballots == {}
