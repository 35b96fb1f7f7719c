"""Stored records: the versioned form of what the database keeps of the live session.

Two shapes are stored as JSON: each event in ``event_log.payload`` and the whole ``LiveState`` in
``live_states.state``. Each row also stores the *format* its JSON was written in. The event log is
the record of every session for years, so a row written today must still be readable after the
model has changed: every reader and writer goes through this module.

- Writing: ``encode_event`` / ``encode_state`` give the JSON and the current format number.
- Reading: ``decode_event`` / ``decode_state`` lift an older record to the current format with the
  registered *upcasters* (plain ``dict -> dict`` functions, format ``n`` to ``n + 1``, applied in
  turn), then validate it with the current model. A record that cannot be read (a format newer
  than this code, no upcaster for its format, or JSON the model refuses) raises ``RecordError``
  naming the row: never a silently blank value.

When a stored shape changes (a field renamed, removed, or made required), bump the format number
of that kind, register the upcaster from the previous format, and add the golden fixtures of the
new format (see docs/records.md). Pure: no I/O, no clock.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from server.core.apply import apply_public, apply_staff
from server.core.model import (
    Event,
    FloorRequested,
    PersonKind,
    PollPrepared,
    QuestionAsked,
    SpeechStarted,
    StatementSubmitted,
    person_ref,
)
from server.core.state import Counters, LiveState

T = TypeVar("T")
Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]
"""Lifts one record's JSON from format ``n`` to ``n + 1``. It gets a copy it may change."""

EVENT_FORMAT: Final = 3
"""The format ``encode_event`` writes. 1: the event shapes of ``server.core.model.events`` with
persons as bare numbers (``user_id``, ``by``); 2: persons as references (``who``, ``by``:
``"attendee:3"``, ``"staff:3"``); 3: queue entries carry ``category`` and ``queue.order_set``
exists."""
STATE_FORMAT: Final = 3
"""The format ``encode_state`` writes. 1: ``LiveState`` (public and staff views, id counters) with
persons as bare numbers; 2: persons as references; 3: the speakers queue has its ``order`` and its
entries their ``category``."""

_EVENT: Final[TypeAdapter[Event]] = TypeAdapter(Event)


class RecordError(ValueError):
    """A stored record that this code cannot read. ``record`` names the row (table and identity)."""

    def __init__(self, kind: str, record: str, stored_format: object, reason: str) -> None:
        super().__init__(f"{record}: {kind} record in format {stored_format!r}: {reason}")
        self.kind = kind
        self.record = record
        self.stored_format = stored_format
        self.reason = reason


class UnknownFormat(RecordError):
    """The record's format is newer than this code knows (or not a format number at all): a newer
    server wrote it, so this one must not guess."""


class UnreadableRecord(RecordError):
    """The record's format is known but it cannot be lifted (no upcaster) or the current model
    refuses the lifted JSON."""


@dataclass(frozen=True)
class RecordCodec(Generic[T]):
    """Encode and decode one kind of record: its current format, its upcasters, its model."""

    kind: str
    current: int
    validate: Callable[[Payload], T]
    dump: Callable[[T], Payload]
    upcasters: Mapping[int, Upcaster] = field(default_factory=dict)
    """By the format they lift *from*: ``upcasters[n]`` turns format ``n`` into ``n + 1``."""

    def encode(self, value: T) -> tuple[Payload, int]:
        return self.dump(value), self.current

    def lift(self, payload: Payload, stored_format: int, *, record: str) -> Payload:
        """The record's JSON in the current format (a copy when an upcaster ran)."""
        if not isinstance(stored_format, int) or isinstance(stored_format, bool) or stored_format > self.current:
            raise UnknownFormat(self.kind, record, stored_format, f"this code reads formats up to {self.current}")
        if not isinstance(payload, dict):
            raise UnreadableRecord(self.kind, record, stored_format, "the stored JSON is not an object")
        version = stored_format
        while version < self.current:
            upcaster = self.upcasters.get(version)
            if upcaster is None:
                raise UnreadableRecord(self.kind, record, stored_format, f"no upcaster from format {version}")
            try:
                payload = upcaster(copy.deepcopy(payload))
            except (KeyError, TypeError, ValueError) as exc:
                raise UnreadableRecord(
                    self.kind, record, stored_format, f"the upcaster from format {version} failed: {exc!r}"
                ) from exc
            version += 1
        return payload

    def decode(self, payload: Payload, stored_format: int, *, record: str) -> T:
        lifted = self.lift(payload, stored_format, record=record)
        try:
            return self.validate(lifted)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'record'}: {error['msg']}"
                for error in exc.errors(include_url=False)[:3]
            )
            raise UnreadableRecord(self.kind, record, stored_format, problems) from exc

    def with_upcasters(self, current: int, upcasters: Mapping[int, Upcaster]) -> RecordCodec[T]:
        """The same codec reading up to format ``current`` with more upcasters (tests, tools)."""
        return RecordCodec(self.kind, current, self.validate, self.dump, {**self.upcasters, **upcasters})


# -- format 1 → 2: persons become references -----------------------------------------------------
#
# Format 1 named a person by a bare number: a registration id for an attendee, a user id for a
# staff member, in the same fields. Format 2 says which (``"attendee:3"`` / ``"staff:3"``). The
# upcasters decide from the record alone, so the lifted log and the lifted state agree and a
# replay still gives the stored state:
#
# - ``by``, ``edited_by``, ``dismissed_by``, ``approved_by`` are staff: only moderators and
#   organisers may edit, approve, dismiss or switch moderation, and only staff accounts hold
#   those roles (exact).
# - ``user_id`` of a queue entry, a speech or an asker: attendee when the record gives the person
#   an organisation (staff accounts have none, so this is exact); otherwise staff. An attendee who
#   registered without an organisation cannot be told from a staff member by the record; staff is
#   the safe side: a staff member already sees every entry and question, while an attendee taken
#   for someone else would be shown another person's pending question as their own.


def _v1_person(holder: Payload) -> None:
    """Replace a format-1 ``user_id`` (entry, speech, asker) by ``who``, in place."""
    number = holder.pop("user_id")
    if number is None:
        holder["who"] = None
        return
    kind: PersonKind = "attendee" if holder.get("organisation") else "staff"
    holder["who"] = person_ref(kind, number)


def _v1_staff(holder: Payload, *keys: str) -> None:
    for key in keys:
        if holder.get(key) is not None:
            holder[key] = person_ref("staff", holder[key])


def _v1_staff_question(question: Payload) -> None:
    _v1_person(question["asker"])
    _v1_staff(question, "edited_by", "dismissed_by")


def _event_persons_are_references(payload: Payload) -> Payload:
    """Event format 1 → 2: ``user_id`` becomes ``who``, ``by`` a staff reference."""
    kind = payload["type"]
    if kind in ("speech.started", "speech.ended"):
        _v1_person(payload["speech"])
    elif kind == "floor.requested":
        _v1_person(payload["entry"])
    elif kind in ("question.asked", "question.dismissed"):
        _v1_staff_question(payload["question"])
    _v1_staff(payload, "by")
    return payload


def _state_persons_are_references(payload: Payload) -> Payload:
    """Live state format 1 → 2: the same rules on every speech, entry and question it holds."""
    public, staff = payload["public"], payload["staff"]
    if public["stage"].get("speech") is not None:
        _v1_person(public["stage"]["speech"])
    for entry in public["queue"]["waiting"]:
        _v1_person(entry)
    for question in staff["questions"]:
        _v1_staff_question(question)
    for facts in staff["provenance"].values():
        _v1_person(facts["asker"])
        _v1_staff(facts, "edited_by", "approved_by")
    return payload


def _speaking_order_fields_have_defaults(payload: Payload) -> Payload:
    """Format 2 → 3: ``category`` of a queue entry (null: not known) and ``order`` of the speakers
    queue (``request``, the only order format 2 knew) are optional with those defaults, so a
    format-2 record reads as it is."""
    return payload


def _dump_event(event: Event) -> Payload:
    return event.model_dump(mode="json")


def _dump_state(state: LiveState) -> Payload:
    return state.model_dump(mode="json")


EVENTS: Final[RecordCodec[Event]] = RecordCodec(
    kind="event",
    current=EVENT_FORMAT,
    validate=_EVENT.validate_python,
    dump=_dump_event,
    upcasters={1: _event_persons_are_references, 2: _speaking_order_fields_have_defaults},
)
STATES: Final[RecordCodec[LiveState]] = RecordCodec(
    kind="live state",
    current=STATE_FORMAT,
    validate=LiveState.model_validate,
    dump=_dump_state,
    upcasters={1: _state_persons_are_references, 2: _speaking_order_fields_have_defaults},
)

EVENT_TYPE_RENAMES: Final[Mapping[str, str]] = {}
"""Old event type → its current name, for an upcaster that renames a type. The ``type`` column of
``event_log`` keeps the name a row was written with; readers that filter on it in SQL ask
``stored_event_types`` for every name a type has had."""


def encode_event(event: Event) -> tuple[Payload, int]:
    """The JSON to store in ``event_log.payload`` and its ``format``."""
    return EVENTS.encode(event)


def decode_event(payload: Payload, stored_format: int, *, record: str = "event_log row") -> Event:
    """An ``event_log`` row's event in the current model. Raises ``RecordError``."""
    return EVENTS.decode(payload, stored_format, record=record)


def encode_state(state: LiveState) -> tuple[Payload, int]:
    """The JSON to store in ``live_states.state`` and its ``format``."""
    return STATES.encode(state)


def decode_state(payload: Payload, stored_format: int, *, record: str = "live_states row") -> LiveState:
    """A ``live_states`` row's state in the current model. Raises ``RecordError``."""
    return STATES.decode(payload, stored_format, record=record)


def stored_event_types(types: Iterable[str]) -> tuple[str, ...]:
    """Every name the event types ``types`` have been stored under (for a SQL filter)."""
    wanted = set(types)
    return tuple(sorted(wanted | {old for old, new in EVENT_TYPE_RENAMES.items() if new in wanted}))


def event_record(row_id: object, event_id: object, channel: object, seq: object) -> str:
    """How an ``event_log`` row is named in a ``RecordError``."""
    return f"event_log row {row_id} (event {event_id}, {channel} seq {seq})"


def state_record(event_id: object) -> str:
    """How a ``live_states`` row is named in a ``RecordError``."""
    return f"live_states row of event {event_id}"


def rebuild_state(initial: LiveState, events: Iterable[Event]) -> LiveState:
    """The live state the event log describes: ``events`` (of both channels, in log order) folded
    into ``initial`` with the clients' own apply rules, and the id counters past every id the
    events allocated. The service stores exactly this state beside the log."""
    public, staff = initial.public, initial.staff
    entry, question, speech, statement = (
        initial.counters.next_entry_id,
        initial.counters.next_question_id,
        initial.counters.next_speech_id,
        initial.counters.next_statement_id,
    )
    poll = initial.counters.next_poll_id
    for event in events:
        if event.channel == "public":
            public = apply_public(public, event)
        else:
            staff = apply_staff(staff, event)
        if isinstance(event, FloorRequested):
            entry = max(entry, event.entry.id + 1)
        elif isinstance(event, QuestionAsked):
            question = max(question, event.question.id + 1)
        elif isinstance(event, SpeechStarted):
            speech = max(speech, event.speech.id + 1)
        elif isinstance(event, PollPrepared):
            poll = max(poll, event.poll.id + 1)
        elif isinstance(event, StatementSubmitted):
            statement = max(statement, event.statement.id + 1)
    counters = Counters(
        next_entry_id=entry,
        next_question_id=question,
        next_speech_id=speech,
        next_poll_id=poll,
        next_statement_id=statement,
    )
    return LiveState(public=public, staff=staff, counters=counters)
