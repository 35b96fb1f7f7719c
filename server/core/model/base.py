"""Building blocks of the model: the base model, ids, texts, instants, roles, channels, error codes.

Texts are stripped, length-checked after stripping, and refused when they hold control characters,
C0 and C1 alike (PostgreSQL cannot store NUL, nobody types a bell, and NEL is a line break to some
readers); one-line texts also refuse line breaks, which would break a mail header or a CSV row.
Lengths count Unicode code points, as JavaScript's ``[...text].length`` does.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

MAX_SAFE_INTEGER: Final = 2**53 - 1  # the largest id a JavaScript number holds exactly

Role = Literal["attendee", "moderator", "organiser"]
PersonKind = Literal["attendee", "staff"]
PERSON_KINDS: Final[tuple[PersonKind, ...]] = get_args(PersonKind)
ROLES: Final[tuple[Role, ...]] = get_args(Role)
Channel = Literal["public", "staff"]
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
CHANNELS_BY_ROLE: Final[dict[Role, tuple[Channel, ...]]] = {
    "attendee": ("public",),
    "moderator": ("public", "staff"),
    "organiser": ("public", "staff"),
}
"""The channels a role subscribes to; the staff channel and state never reach an attendee."""

ErrorCode = Literal[
    # the frame itself (protocol.parse_command)
    "bad_json",
    "unknown_type",
    "invalid",
    # the rules (core.decide)
    "forbidden",
    "not_found",
    "no_live_segment",
    "list_closed",
    "already_waiting",
    "invalid_transition",
    "reorder_mismatch",
    "outside_day",
    "not_eligible",
    "deadline_passed",
    # the service
    "rate_limited",
    "internal",
]
ERROR_CODES: Final[tuple[ErrorCode, ...]] = get_args(ErrorCode)


def require_type_tag(schema: dict[str, Any]) -> None:
    """The tag has a default (so Python code need not repeat it) but is required on the wire."""
    properties = schema.get("properties", {})
    if "type" in properties:
        required = schema.setdefault("required", [])
        if "type" not in required:
            required.insert(0, "type")


class Model(BaseModel):
    """Every state, event and command shape: unknown fields are refused, instances are immutable. In the schema of what
    the server sends, every field is required (the server always writes them all, nulls included)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra=require_type_tag,
        json_schema_serialization_defaults_required=True,
    )


# -- scalar types ---------------------------------------------------------------------------------

Id = Annotated[int, Field(ge=1, le=MAX_SAFE_INTEGER)]
Count = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER)]
Seq = Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER)]
_PERSON_REF: Final = re.compile(r"(attendee|staff):([1-9][0-9]{0,15})", re.ASCII)
PersonRef = Annotated[
    str,
    StringConstraints(pattern=r"^(attendee|staff):[1-9][0-9]{0,15}$"),
    Field(description='A person: "attendee:<registration id>" or "staff:<user id>" (docs/protocol.md, People).'),
]
"""Who a person is, wherever the state or an event names one: ``"attendee:<registration id>"`` or
``"staff:<user id>"``. Registrations and staff accounts are numbered apart, so attendee 3 and
moderator 3 can be in the same event: the bare number never names a person. A string (not an
object) so that clients compare two references with ``===`` and use one as a map key."""


def person_ref(kind: PersonKind, id_: int) -> str:
    """The reference of attendee registration ``id_`` or staff account ``id_``."""
    if kind not in PERSON_KINDS or isinstance(id_, bool) or not 1 <= id_ <= MAX_SAFE_INTEGER:
        raise ValueError(f"not a person: {kind!r} {id_!r}")
    return f"{kind}:{id_}"


def parse_person_ref(ref: str) -> tuple[PersonKind, int]:
    """``"staff:3"`` → ``("staff", 3)``. Raises ``ValueError`` on anything else."""
    match = _PERSON_REF.fullmatch(ref) if isinstance(ref, str) else None
    if match is None or int(match.group(2)) > MAX_SAFE_INTEGER:
        raise ValueError(f"not a person reference: {ref!r}")
    kind: PersonKind = "attendee" if match.group(1) == "attendee" else "staff"
    return kind, int(match.group(2))


Cid = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[!-~]+$")]
"""The client's command id: 1 to 64 printable ASCII characters, no spaces."""
Epoch = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[!-~]+$")]
LimitSeconds = Annotated[int, Field(ge=10, le=3600)]
Seconds = Annotated[float, Field(ge=0)]
"""A duration measured between two instants (fractions kept)."""
SignedSeconds = float
"""Like ``Seconds`` but may be negative: drift is negative when the event runs ahead of schedule."""


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
"""An aware instant, normalised to UTC; naive datetimes are refused."""

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]")


def _no_control_chars(value: str) -> str:
    if _CONTROL_CHARS.search(value):
        raise ValueError("control characters are not allowed")
    return value


def _one_line(value: str) -> str:
    if _LINE_BREAKS.search(value):
        raise ValueError("must be a single line")
    return _no_control_chars(value)


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _text(max_length: int) -> Any:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


QuestionText = Annotated[str, _text(500), AfterValidator(_no_control_chars)]
"""1 to 500 characters after stripping; line breaks allowed."""
NoticeText = Annotated[str, _text(280), AfterValidator(_one_line)]
ShortLine = Annotated[str, _text(120), AfterValidator(_one_line)]
OptionalShortLine = Annotated[ShortLine | None, BeforeValidator(_blank_to_none)]
"""A one-line text of at most 120 characters; omitted, null or blank all mean none."""
OneLineText = Annotated[str, AfterValidator(_one_line)]
"""A one-line text whose bounds the field gives (``Field(max_length=…)``): names, addresses and other
one-line fields of HTTP bodies, refused with the same rule as the protocol's texts."""
