"""The shapes of live polls: a poll as prepared (staff), as opened (public), and its tallies.

A poll is prepared on a segment as a draft that only the staff see (``StaffState.draft_polls``).
Opening it moves it to ``PublicState.polls``, where attendees see the question and its options;
from then on the staff keep its live tally (``StaffState.poll_tallies``: ballots, counts per
option and, for a named poll only, who chose what). The public poll carries ``results`` once the
moderator publishes them, and they follow the tally live from then on; until then the counts
stay on the staff channel.

Ballots themselves are the service's (one row per poll and voter, the Q&A vote pattern): the core
checks a ballot may be cast and turns the service's coalesced counts into tally events.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, model_validator

from server.core.model.base import (
    Count,
    Id,
    Instant,
    Model,
    PersonRef,
    ShortLine,
    _one_line,
    _text,
)

PollChoice = Literal["single", "multiple"]
PollStatus = Literal["open", "closed"]

MIN_POLL_OPTIONS: Final = 2
MAX_POLL_OPTIONS: Final = 10

PollQuestionText = Annotated[str, _text(300), AfterValidator(_one_line)]
"""1 to 300 characters after stripping, one line."""
PollOptionText = ShortLine
"""1 to 120 characters after stripping, one line."""
OptionId = Annotated[int, Field(ge=1, le=MAX_POLL_OPTIONS)]
"""An option's number within its poll: 1 to the number of options, in the order they were given."""


def distinct_option_texts(texts: tuple[str, ...] | list[str]) -> None:
    """Raise ``ValueError`` when two options read the same (ignoring case and inner spacing)."""
    seen: set[str] = set()
    for text in texts:
        key = " ".join(text.casefold().split())
        if key in seen:
            raise ValueError(f"option {text!r} is given twice")
        seen.add(key)


class PollOption(Model):
    id: OptionId
    text: PollOptionText


def _options_are_numbered(options: tuple[PollOption, ...]) -> None:
    if [o.id for o in options] != list(range(1, len(options) + 1)):
        raise ValueError("options are numbered 1, 2, … in order")
    distinct_option_texts([o.text for o in options])


class PollDefinition(Model):
    """What the moderator prepared: the question, its options, single or multiple choice, and
    whether ballots are named (the staff see who chose what) or anonymous (nobody does)."""

    id: Id
    segment_id: Id
    question: PollQuestionText
    choice: PollChoice = "single"
    anonymous: bool = True
    options: tuple[PollOption, ...] = Field(min_length=MIN_POLL_OPTIONS, max_length=MAX_POLL_OPTIONS)

    @model_validator(mode="after")
    def _well_formed(self) -> PollDefinition:
        _options_are_numbered(self.options)
        return self


class DraftPoll(PollDefinition):
    """A prepared poll not opened yet: staff-only."""

    prepared_by: PersonRef
    prepared_at: Instant


class PollResults(Model):
    """``ballots``: attendees who voted; ``counts``: ballots choosing each option, by option id (a
    multiple-choice ballot counts once for each option it chose)."""

    ballots: Count = 0
    counts: dict[OptionId, Count] = Field(default_factory=dict)


class NamedBallot(Model):
    """One attendee's current ballot in a named poll (staff only)."""

    who: PersonRef
    name: str
    organisation: str | None = None
    option_ids: tuple[OptionId, ...]


class PollTally(PollResults):
    """The staff's live tally of an opened poll; ``named`` lists the ballots of a named poll (by
    ``who``) and is always empty for an anonymous one."""

    named: tuple[NamedBallot, ...] = ()


class PublicPoll(PollDefinition):
    """An opened poll, as every attendee sees it. ``results`` is null until they are published."""

    status: PollStatus = "open"
    opened_at: Instant
    closed_at: Instant | None = None
    results: PollResults | None = None


def empty_results(options: tuple[PollOption, ...]) -> PollResults:
    return PollResults(ballots=0, counts={o.id: 0 for o in options})
