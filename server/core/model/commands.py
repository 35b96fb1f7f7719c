"""The commands the rules decide (verbs), with the rule of each in its docstring.

They belong to the core because ``core.decide`` names them; ``server.protocol`` adds the control
frames (``ping``, ``resume``), the ``Command`` union and the parsing.

Every command is ``{"type": ..., "cid": ..., ...fields}``. ``cid`` is chosen by the client and
echoed in the ``result`` or ``error`` frame; a repeated ``cid`` gets the first answer again.

Each docstring is the command's short spec: payload, effect, the events it emits and the error
codes it can get beyond ``forbidden`` (a role not in ``core.permissions.ALLOWED_ROLES``). "No-op" means
the command succeeds and emits nothing. ``ping`` and ``resume`` are control frames: the connection
answers them, they change no state and have no core rules.

Rule of thumb for repeats: a command whose target is already reached (close a closed list, clear
no notice, set the same limit) is a no-op; a lifecycle step from the wrong state (answer an
archived question, resume a live segment) is ``invalid_transition``.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, get_args

from pydantic import ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from server.core.model.base import (
    Cid,
    Id,
    Instant,
    LimitSeconds,
    Model,
    NoticeText,
    OptionalShortLine,
    QuestionText,
    require_type_tag,
)
from server.core.model.polls import (
    MAX_POLL_OPTIONS,
    MIN_POLL_OPTIONS,
    OptionId,
    PollChoice,
    PollOptionText,
    PollQuestionText,
    distinct_option_texts,
)
from server.core.model.statements import (
    DeadlineSeconds,
    LanguageTag,
    OptionalRejectionReason,
    StatementText,
)


class BaseCommand(Model):
    # strict: on the wire, "1" is not a number and "yes" is not a boolean
    model_config = ConfigDict(strict=True)

    cid: Cid


# -- stage ----------------------------------------------------------------------------------------


class SegmentOpen(BaseCommand):
    """Open a scheduled segment: it goes live with a new, open, empty speakers queue.

    Emits ``segment.opened`` (with the drift from its scheduled start). Errors: ``not_found``;
    ``invalid_transition`` when the segment is not scheduled or another segment is live or paused;
    ``outside_day`` when now is not within its day: from 2 hours before the day's first segment to 2
    hours after its last one's scheduled end (rehearsal copies of an event may open on any day).
    """

    type: Literal["segment.open"] = "segment.open"
    segment_id: Id


class SegmentPause(BaseCommand):
    """Pause the live segment (a break). A running speech is paused with it (``speech.paused``).

    Emits ``segment.paused``. Errors: ``not_found``; ``invalid_transition`` unless live.
    """

    type: Literal["segment.pause"] = "segment.pause"
    segment_id: Id


class SegmentResume(BaseCommand):
    """Resume a paused segment. A speech paused with it stays paused until ``speech.resume``.

    Emits ``segment.resumed``. Errors: ``not_found``; ``invalid_transition`` unless paused.
    """

    type: Literal["segment.resume"] = "segment.resume"
    segment_id: Id


class SegmentEnd(BaseCommand):
    """End the live or paused segment: ends the current speech and closes its queue.

    Emits ``poll.closed`` (if its poll was open: the service first counts its ballots exactly),
    ``speech.ended`` (if someone had the floor), ``queue.closed`` (if open), ``segment.ended``
    (with the drift from its scheduled end). The waiting entries stay visible until the next
    segment opens. Errors: ``not_found``; ``invalid_transition`` unless live or paused.
    """

    type: Literal["segment.end"] = "segment.end"
    segment_id: Id


def _exactly_one_target(schema: dict[str, Any]) -> None:
    require_type_tag(schema)
    schema["oneOf"] = [{"required": ["entry_id"]}, {"required": ["person_id"]}]


class FloorGrant(BaseCommand):
    """Give the floor to a waiting queue entry (``entry_id``) or a programme person of the live
    segment (``person_id``): exactly one of the two.

    The limit defaults to 180 s for an intervention from the floor, 420 s for a panel's programme
    people, 300 s for those of an opening or closing; ``limit_s`` (10..3600) overrides it. Emits
    ``speech.ended`` for whoever had the floor, then ``speech.started`` (which takes the entry out
    of the queue). Errors: ``no_live_segment``; ``invalid_transition`` while the segment is paused;
    ``not_found`` for an entry not waiting or a person not in the live segment.
    """

    type: Literal["floor.grant"] = "floor.grant"
    entry_id: Id | SkipJsonSchema[None] = None
    person_id: Id | SkipJsonSchema[None] = None
    limit_s: LimitSeconds | SkipJsonSchema[None] = None

    model_config = ConfigDict(json_schema_extra=_exactly_one_target)

    @model_validator(mode="after")
    def _exactly_one(self) -> FloorGrant:
        if (self.entry_id is None) == (self.person_id is None):
            raise ValueError("give exactly one of entry_id and person_id")
        return self


class SpeechPause(BaseCommand):
    """Stop the speaker's clock. Emits ``speech.paused``. Errors: ``invalid_transition`` when
    nobody has the floor or the speech is already paused."""

    type: Literal["speech.pause"] = "speech.pause"


class SpeechResume(BaseCommand):
    """Restart the speaker's clock. Emits ``speech.resumed`` with the new total paused time.
    Errors: ``invalid_transition`` when no speech is paused or the segment itself is paused."""

    type: Literal["speech.resume"] = "speech.resume"


class SpeechEnd(BaseCommand):
    """End the current speech. Emits ``speech.ended`` with its duration excluding pauses (the
    speech history is the sequence of these events). Errors: ``invalid_transition`` when nobody
    has the floor."""

    type: Literal["speech.end"] = "speech.end"


class SpeechSetLimit(BaseCommand):
    """Change the current speech's time limit (10..3600 s). Emits ``speech.limit_set``; no-op if
    unchanged. Errors: ``invalid_transition`` when nobody has the floor."""

    type: Literal["speech.set_limit"] = "speech.set_limit"
    seconds: LimitSeconds


class NoticeSet(BaseCommand):
    """Show a one-line notice (1..280 characters) to everyone. Emits ``notice.posted``; no-op if
    the same text is already shown."""

    type: Literal["notice.set"] = "notice.set"
    text: NoticeText


class NoticeClear(BaseCommand):
    """Remove the notice. Emits ``notice.cleared``; no-op when there is none."""

    type: Literal["notice.clear"] = "notice.clear"


# -- speakers queue -------------------------------------------------------------------------------


class FloorRequest(BaseCommand):
    """Ask for the floor on the live (or paused) segment, optionally with a topic and "on behalf
    of" (each at most 120 characters, one line; blank means none).

    A point of order goes after the points of order already at the head of the queue, before every
    ordinary request; an ordinary request goes last. A point of order is accepted even when the
    list is closed: it is about the conduct of the meeting, which closing the list cannot silence.
    Emits ``floor.requested`` with the entry and its position. Errors: ``no_live_segment``;
    ``already_waiting`` (one waiting entry per person); ``list_closed``.
    """

    type: Literal["floor.request"] = "floor.request"
    topic: OptionalShortLine = None
    on_behalf_of: OptionalShortLine = None
    point_of_order: bool = False


class FloorWithdraw(BaseCommand):
    """Withdraw one's own waiting entry. Emits ``queue.entry_removed`` (reason ``withdrawn``).
    Errors: ``not_found`` when the user has no waiting entry."""

    type: Literal["floor.withdraw"] = "floor.withdraw"


class QueueRemove(BaseCommand):
    """Take an entry off the queue. Emits ``queue.entry_removed`` (reason ``removed``).
    Errors: ``not_found``."""

    type: Literal["queue.remove"] = "queue.remove"
    entry_id: Id


class QueueReorder(BaseCommand):
    """Put the waiting entries in a new order: ``entry_ids`` must name every waiting entry exactly
    once. The moderator may put any entry anywhere, points of order included. Emits
    ``queue.reordered``; no-op if the order is unchanged. Errors: ``reorder_mismatch``."""

    type: Literal["queue.reorder"] = "queue.reorder"
    entry_ids: list[Id] = Field(max_length=1000)


class QueueSetOrder(BaseCommand):
    """Choose how the list of speakers is ordered: ``request`` (request time) or ``category`` (the
    event's order of categories, then request time). Switching re-sorts the waiting entries once,
    stably: points of order first in request order, then the others by the new rule. Afterwards a
    new ordinary request goes, in ``category`` mode, right after the last waiting ordinary request
    of the same or an earlier category (after the points of order if there is none); in
    ``request`` mode, last. Moves by hand (``queue.reorder``) are kept until the next switch.
    Emits ``queue.order_set``, then ``queue.reordered`` if the order changed; no-op when the mode
    is already the one asked for."""

    type: Literal["queue.set_order"] = "queue.set_order"
    order: Literal["request", "category"]


class QueueClose(BaseCommand):
    """Close the list of speakers to new ordinary requests (waiting entries keep their place).
    Emits ``queue.closed``; no-op when already closed."""

    type: Literal["queue.close"] = "queue.close"


class QueueOpen(BaseCommand):
    """Reopen the list. Emits ``queue.opened``; no-op when open. Errors: ``no_live_segment``."""

    type: Literal["queue.open"] = "queue.open"


# -- Q&A ------------------------------------------------------------------------------------------


class QuestionAsk(BaseCommand):
    """Submit a question (1..500 characters after stripping) to the live or paused segment,
    optionally addressed to one of its programme people, optionally anonymous to other attendees
    (never to moderators).

    Emits ``question.asked`` (staff); with moderation off also ``question.approved`` (staff,
    ``by`` null) and ``question.published`` (public). Errors: ``no_live_segment``; ``not_found``
    when ``addressed_to`` is not a person of the segment.
    """

    type: Literal["question.ask"] = "question.ask"
    text: QuestionText
    addressed_to: Id | None = None
    anonymous: bool = False


class QuestionVote(BaseCommand):
    """Set one's vote on a published, not archived question: ``up`` is the desired state, so a
    repeat changes nothing. The core only checks the question can be voted on and emits nothing;
    the service records the vote in its (question, user) table and publishes coalesced totals
    through ``core.record_vote_counts`` (``question.votes_updated``). Errors: ``not_found`` (not
    published); ``invalid_transition`` (archived)."""

    type: Literal["question.vote"] = "question.vote"
    question_id: Id
    up: bool


class QuestionApprove(BaseCommand):
    """Publish a pending question, optionally with an edited ``text``. Emits ``question.approved``
    (staff) and ``question.published`` (public). Errors: ``not_found``; ``invalid_transition``
    unless pending."""

    type: Literal["question.approve"] = "question.approve"
    question_id: Id
    text: QuestionText | SkipJsonSchema[None] = None


class QuestionEdit(BaseCommand):
    """Edit a pending question's text; the asker's words are kept as ``original_text``. Emits
    ``question.edited`` (staff); no-op if unchanged. Errors: ``not_found``;
    ``invalid_transition`` unless pending."""

    type: Literal["question.edit"] = "question.edit"
    question_id: Id
    text: QuestionText


class QuestionDismiss(BaseCommand):
    """Dismiss a pending question, or take down a published one (needed when moderation is off).
    Emits ``question.dismissed`` (staff) and, if it was published, ``question.unpublished``
    (public). Errors: ``not_found``; ``invalid_transition`` when already dismissed."""

    type: Literal["question.dismiss"] = "question.dismiss"
    question_id: Id


class QuestionHighlight(BaseCommand):
    """Mark an approved question as "now being answered", replacing any other; null clears it.
    Emits ``question.highlighted``; no-op if unchanged. Errors: ``not_found``;
    ``invalid_transition`` unless approved."""

    type: Literal["question.highlight"] = "question.highlight"
    question_id: Id | None


class QuestionAnswer(BaseCommand):
    """Mark an approved question answered (it stays on the board and can still get votes; a
    highlight on it is cleared). Emits ``question.answered``. Errors: ``not_found``;
    ``invalid_transition`` unless approved."""

    type: Literal["question.answer"] = "question.answer"
    question_id: Id


class QuestionArchive(BaseCommand):
    """Archive an approved or answered question (no more votes; a highlight on it is cleared).
    Emits ``question.archived``. Errors: ``not_found``; ``invalid_transition``."""

    type: Literal["question.archive"] = "question.archive"
    question_id: Id


class QuestionRestore(BaseCommand):
    """Undo a dismissal (back to pending: ``question.undismissed``, staff) or an archiving (back to
    answered if it had been answered, else approved: ``question.unarchived``, public). Errors:
    ``not_found``; ``invalid_transition`` unless dismissed or archived."""

    type: Literal["question.restore"] = "question.restore"
    question_id: Id


class QaSetModeration(BaseCommand):
    """Switch pre-moderation of questions on or off for the event. Switching off publishes new
    questions at once; questions already pending stay pending. Emits ``qa.moderation_set``
    (staff); no-op if unchanged."""

    type: Literal["qa.set_moderation"] = "qa.set_moderation"
    enabled: bool


# -- polls --------------------------------------------------------------------------------------


class PollPrepare(BaseCommand):
    """Prepare a poll on a segment not ended yet: a one-line ``question`` (1..300 characters), 2 to 10
    ``options`` (one line, 1..120 characters each, no two alike ignoring case and spacing; numbered
    1, 2, … in the order given), ``choice`` ``single`` (a ballot chooses exactly one option) or
    ``multiple`` (one or more), ``anonymous`` (default true: nobody sees who chose what) or named
    (the staff see each attendee's ballot). It stays a staff-only draft until ``poll.open``.

    Emits ``poll.prepared`` (staff). Errors: ``not_found`` (no such segment);
    ``invalid_transition`` (the segment has ended).
    """

    type: Literal["poll.prepare"] = "poll.prepare"
    segment_id: Id
    question: PollQuestionText
    options: list[PollOptionText] = Field(min_length=MIN_POLL_OPTIONS, max_length=MAX_POLL_OPTIONS)
    choice: PollChoice = "single"
    anonymous: bool = True

    @model_validator(mode="after")
    def _distinct(self) -> PollPrepare:
        distinct_option_texts(self.options)
        return self


class PollDiscard(BaseCommand):
    """Throw away a draft poll. Emits ``poll.discarded`` (staff). Errors: ``not_found``;
    ``invalid_transition`` once it has been opened."""

    type: Literal["poll.discard"] = "poll.discard"
    poll_id: Id


class PollOpen(BaseCommand):
    """Open a draft poll to ballots; its segment must be live or paused, and no other poll open.

    Emits ``poll.launched`` (staff: the draft leaves the drafts, its tally starts at zero) and
    ``poll.opened`` (public: the question and options, without results). Errors: ``not_found``;
    ``invalid_transition`` (already opened, another poll open, or its segment not live or paused).
    """

    type: Literal["poll.open"] = "poll.open"
    poll_id: Id


class PollClose(BaseCommand):
    """Close an open poll to ballots. The service first brings the tally to the exact count of
    the ballots (``poll.tallied``, and ``poll.results_updated`` when published). Emits
    ``poll.closed`` (public); no-op when already closed. Errors: ``not_found``;
    ``invalid_transition`` for a draft."""

    type: Literal["poll.close"] = "poll.close"
    poll_id: Id


class PollPublish(BaseCommand):
    """Show an opened poll's results to everyone, while it is open (they then follow the ballots
    live) or once closed. Not publishing keeps them for the staff. The service first brings the
    tally to the exact count. Emits ``poll.results_published`` (public); no-op when already
    published. Errors: ``not_found``; ``invalid_transition`` for a draft."""

    type: Literal["poll.publish"] = "poll.publish"
    poll_id: Id


class PollVote(BaseCommand):
    """Cast one's ballot in the open poll: ``option_ids`` are the chosen options (each once),
    exactly one for a single-choice poll, one or more for a multiple-choice one. A new ballot
    replaces one's previous ballot while the poll is open. Attendees only (staff run the poll;
    they do not vote in it). The core checks the ballot and emits nothing; the service keeps one
    row per (poll, attendee) and publishes coalesced tallies (``poll.tallied``, and
    ``poll.results_updated`` once published). Errors: ``not_found`` (no opened poll, or an option
    it does not have); ``invalid_transition`` (closed); ``invalid`` (a single-choice poll with
    more than one option chosen).
    """

    type: Literal["poll.vote"] = "poll.vote"
    poll_id: Id
    option_ids: list[OptionId] = Field(min_length=1, max_length=MAX_POLL_OPTIONS)

    @model_validator(mode="after")
    def _each_once(self) -> PollVote:
        if len(set(self.option_ids)) != len(self.option_ids):
            raise ValueError("an option is chosen twice")
        return self


# -- written statements ---------------------------------------------------------------------------


class StatementSubmit(BaseCommand):
    """Submit a written statement for an ended segment that left you waiting for the floor, in one
    of the event's languages, before the deadline. A new submission replaces your pending or
    rejected one (same id, pending again). The text is 1 to ``PARLEY_STATEMENT_MAX_CHARS``
    characters after stripping (5,000 by default, never more than 10,000); line breaks allowed.

    Emits ``statement.submitted`` (staff). Errors: ``not_found`` (no such segment);
    ``not_eligible`` (the segment did not end with you waiting for the floor);
    ``deadline_passed``; ``invalid_transition`` (your statement is already approved); ``invalid``
    (a text over the event's limit, a language the event does not have).
    """

    type: Literal["statement.submit"] = "statement.submit"
    segment_id: Id
    language: LanguageTag
    text: StatementText


class StatementApprove(BaseCommand):
    """Publish a pending statement. Emits ``statement.approved`` (staff) and
    ``statement.published`` (public). Errors: ``not_found``; ``invalid_transition`` unless
    pending."""

    type: Literal["statement.approve"] = "statement.approve"
    statement_id: Id


class StatementReject(BaseCommand):
    """Turn down a pending statement, with an optional reason (at most 500 characters; blank means
    none) that its author sees. The author may submit a new version before the deadline. Emits
    ``statement.rejected`` (staff). Errors: ``not_found``; ``invalid_transition`` unless pending."""

    type: Literal["statement.reject"] = "statement.reject"
    statement_id: Id
    reason: OptionalRejectionReason = None


def _exactly_one_deadline(schema: dict[str, Any]) -> None:
    require_type_tag(schema)
    schema["oneOf"] = [{"required": ["after_s"]}, {"required": ["until"]}]


class StatementsSetDeadline(BaseCommand):
    """Organisers only: until when statements are accepted, for the whole event: ``after_s``
    seconds after each segment's end (60 s to 30 days), or one instant ``until`` for every segment.
    Exactly one of the two. Open windows follow the new rule at once (it may extend or end them).
    Emits ``statements.deadline_set`` (public); no-op if unchanged."""

    type: Literal["statements.set_deadline"] = "statements.set_deadline"
    after_s: DeadlineSeconds | SkipJsonSchema[None] = None
    until: Instant | SkipJsonSchema[None] = None

    model_config = ConfigDict(json_schema_extra=_exactly_one_deadline)

    @model_validator(mode="after")
    def _exactly_one(self) -> StatementsSetDeadline:
        if (self.after_s is None) == (self.until is None):
            raise ValueError("give exactly one of after_s and until")
        return self


# -- unions --------------------------------------------------------------------------------------

StateCommand = Annotated[
    SegmentOpen
    | SegmentPause
    | SegmentResume
    | SegmentEnd
    | FloorGrant
    | SpeechPause
    | SpeechResume
    | SpeechEnd
    | SpeechSetLimit
    | NoticeSet
    | NoticeClear
    | FloorRequest
    | FloorWithdraw
    | QueueRemove
    | QueueReorder
    | QueueSetOrder
    | QueueClose
    | QueueOpen
    | QuestionAsk
    | QuestionVote
    | QuestionApprove
    | QuestionEdit
    | QuestionDismiss
    | QuestionHighlight
    | QuestionAnswer
    | QuestionArchive
    | QuestionRestore
    | QaSetModeration
    | PollPrepare
    | PollDiscard
    | PollOpen
    | PollClose
    | PollPublish
    | PollVote
    | StatementSubmit
    | StatementApprove
    | StatementReject
    | StatementsSetDeadline,
    Field(discriminator="type"),
]
"""The commands with rules in ``core.decide``."""

STATE_COMMAND_CLASSES: Final[tuple[type[BaseCommand], ...]] = get_args(get_args(StateCommand)[0])


def type_tag(model: type[Model]) -> str:
    """The ``type`` tag of a command, event or frame class."""
    default: Any = model.model_fields["type"].default
    assert isinstance(default, str)
    return default


STATE_COMMANDS_BY_TYPE: Final[dict[str, type[BaseCommand]]] = {type_tag(cls): cls for cls in STATE_COMMAND_CLASSES}
