"""Programme files: the schedule of one event (days, segments, people) as a YAML data file.

Split into submodules for size; import everything from here (``from server.programme import ...``).

- ``specs``: the frozen specs a file becomes (``ProgrammeSpec``, ``DaySpec``, ``SegmentSpec``, ...)
- ``offsets``: reminder offsets like ``"24h"`` or ``"1h30m"``, parsed and written back
- ``errors``: ``ProgrammeError``, every refusal as one ``file:line: message`` line
- ``parser``: ``load_programme`` and ``parse_programme``, the YAML walk that checks everything
"""

from server.programme.errors import ProgrammeError
from server.programme.offsets import MAX_REMINDER_MINUTES, format_offset, parse_offset
from server.programme.parser import LANGUAGE_RE, SEGMENT_KEY_RE, SLUG_RE, load_programme, parse_programme
from server.programme.specs import (
    KINDS,
    REMINDER_AUDIENCES,
    DaySpec,
    PersonSpec,
    ProgrammeSpec,
    ReminderSpec,
    SegmentKind,
    SegmentSpec,
)

__all__ = [
    "KINDS",
    "LANGUAGE_RE",
    "MAX_REMINDER_MINUTES",
    "REMINDER_AUDIENCES",
    "SEGMENT_KEY_RE",
    "SLUG_RE",
    "DaySpec",
    "PersonSpec",
    "ProgrammeError",
    "ProgrammeSpec",
    "ReminderSpec",
    "SegmentKind",
    "SegmentSpec",
    "format_offset",
    "load_programme",
    "parse_offset",
    "parse_programme",
]
