"""Reading a programme file: YAML text in, a `ProgrammeSpec` out.

A pure parser and validator: it reads the text it is given, checks everything a human can get
wrong, and returns frozen specs; nothing here touches the database or the clock.  Every refusal
is a `ProgrammeError` whose one-line message names the file and the line, like a compiler's.

The YAML is walked as a node tree (`yaml.compose`) rather than loaded into plain dicts, so that
every key and list item keeps its line number, and duplicate keys (which PyYAML silently lets the
last one win) can be refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple, NoReturn
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from server.core.speaking_order import BadCategoryOrder, check_category_order
from server.programme.errors import ProgrammeError
from server.programme.offsets import format_offset, parse_offset
from server.programme.specs import (
    KINDS,
    REMINDER_AUDIENCES,
    DaySpec,
    PersonSpec,
    ProgrammeSpec,
    ReminderSpec,
    SegmentSpec,
)

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
SEGMENT_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_TIME_RE = re.compile(r"^(\d\d):(\d\d)$")
_DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d$")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$")

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


def load_programme(path: str | Path) -> ProgrammeSpec:
    source = str(path)
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")  # an editor's byte-order mark is not content
    except UnicodeDecodeError as exc:
        raise ProgrammeError(source, data.count(b"\n", 0, exc.start) + 1, "the file is not UTF-8 text") from exc
    return parse_programme(text, source)


def parse_programme(text: str, source: str = "<string>") -> ProgrammeSpec:
    reader = _Reader(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "unreadable"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        reader.fail(mark.line + 1 if mark else 1, f"bad YAML: {problem}{context}")
    except ReaderError as exc:
        reader.fail(text.count("\n", 0, exc.position) + 1, f"bad YAML: {exc.reason}")
    if root is None:
        reader.fail(1, "the file is empty: expected a mapping with slug, title, timezone, languages, days")
    return reader.programme(root)


class _Field(NamedTuple):
    line: int  # the line of the key, where errors about this field point
    node: Node


class _Reader:
    """Walks the node tree, checking as it goes; `fail` raises with the place."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._constructor = SafeConstructor()
        self._languages: tuple[str, ...] = ()
        self._segment_lines: dict[str, int] = {}

    def fail(self, line: int, message: str) -> NoReturn:
        raise ProgrammeError(self.source, line, message)

    # -- generic shapes ------------------------------------------------------------------------

    def mapping(
        self,
        node: Node,
        what: str,
        required: Collection[str],
        optional: Collection[str] | None = (),
    ) -> dict[str, _Field]:
        """The fields of a mapping; `optional=None` allows any key (checked by the caller).

        An unknown key's message lists `allowed`, the very keys accepted here, so the hint cannot
        leave one out.
        """
        if not isinstance(node, MappingNode):
            self.fail(_line(node), f"{what} must be a mapping, got {_show(node)}")
        allowed = None if optional is None else (*required, *optional)
        fields: dict[str, _Field] = {}
        for key_node, value_node in node.value:
            if not (isinstance(key_node, ScalarNode) and key_node.tag == _STR):
                self.fail(_line(key_node), f"keys in {what} must be text, got {_show(key_node)}")
            key = str(key_node.value)
            if key in fields:
                self.fail(
                    _line(key_node),
                    f"key '{key}' is given twice in {what} (first at line {fields[key].line})",
                )
            if allowed is not None and key not in allowed:
                self.fail(_line(key_node), f"unknown key '{key}' in {what} (allowed: {', '.join(allowed)})")
            fields[key] = _Field(_line(key_node), value_node)
        for key in required:
            if key not in fields:
                self.fail(_line(node), f"{what} is missing the key '{key}'")
        return fields

    def sequence(self, field: _Field, what: str) -> list[Node]:
        if not isinstance(field.node, SequenceNode):
            self.fail(field.line, f"{what} must be a list, got {_show(field.node)}")
        return list(field.node.value)

    def text(self, field: _Field, what: str) -> str:
        node = field.node
        if not (isinstance(node, ScalarNode) and node.tag == _STR):
            hint = " (quote it)" if isinstance(node, ScalarNode) and node.tag != _NULL else ""
            self.fail(field.line, f"{what} must be text, got {_show(node)}{hint}")
        if not str(node.value).strip():
            self.fail(field.line, f"{what} is empty")
        return str(node.value)

    def optional_text(self, field: _Field | None, what: str) -> str | None:
        field = _given(field)
        return None if field is None else self.text(field, f"{what} (text or null)")

    def time(self, field: _Field, what: str) -> dt.time:
        node = field.node
        if not (isinstance(node, ScalarNode) and node.tag == _STR):
            self.fail(
                field.line,
                f'{what} must be a quoted "HH:MM" time, got {_show(node)} '
                "(quote times: unquoted, YAML reads 9:00 as the number 540)",
            )
        match = _TIME_RE.match(node.value)
        if match is None:
            self.fail(field.line, f'{what} must be a "HH:MM" time, got "{node.value}"')
        hour, minute = int(match[1]), int(match[2])
        if hour > 23 or minute > 59:
            self.fail(field.line, f'{what} "{node.value}" is outside the day (00:00 to 23:59)')
        return dt.time(hour, minute)

    def date(self, field: _Field, what: str) -> dt.date:
        node = field.node
        shown = _show(node)
        if isinstance(node, ScalarNode) and node.tag in (_STR, _TIMESTAMP) and _DATE_RE.match(node.value):
            try:
                return dt.date.fromisoformat(node.value)
            except ValueError:
                self.fail(field.line, f"{what} {shown} is not a calendar date")
        self.fail(field.line, f"{what} must be a date YYYY-MM-DD, got {shown}")

    def localized(self, field: _Field, what: str) -> dict[str, str]:
        """A text per language: keys from `languages`, the first language required."""
        first = self._languages[0]
        if not isinstance(field.node, MappingNode):
            self.fail(field.line, f'{what} must map languages to text, e.g. {{{first}: "..."}}')
        texts: dict[str, str] = {}
        for language, item in self.mapping(field.node, what, (), None).items():
            if language not in self._languages:
                known = ", ".join(self._languages)
                self.fail(item.line, f"{what} has language '{language}', not in languages ({known})")
            texts[language] = self.text(item, f"{what}.{language}")
        if first not in texts:
            self.fail(field.line, f"{what} has no '{first}' text (the first of languages is required)")
        return {language: texts[language] for language in self._languages if language in texts}

    # -- the programme -------------------------------------------------------------------------

    def programme(self, root: Node) -> ProgrammeSpec:
        required = ("slug", "title", "timezone", "languages", "days")
        if not isinstance(root, MappingNode):
            self.fail(_line(root), f"a programme must be a mapping with {', '.join(required)}; got {_show(root)}")
        fields = self.mapping(root, "the programme", required, ("streams", "reminders", "speaking_order"))
        self._languages = self.languages(fields["languages"])
        slug = self.text(fields["slug"], "slug")
        if not SLUG_RE.match(slug):
            self.fail(fields["slug"].line, f"slug '{slug}' must match {SLUG_RE.pattern}")
        timezone = self.text(fields["timezone"], "timezone")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(
                fields["timezone"].line,
                f"unknown time zone '{timezone}' (use an IANA name like Europe/Paris)",
            )
        streams = self.streams(_given(fields.get("streams")))
        days: list[DaySpec] = []
        seen: dict[dt.date, int] = {}
        for node in self.sequence(fields["days"], "days"):
            day = self.day(node, ZoneInfo(timezone))
            if day.date in seen:
                self.fail(day.line, f"day {day.date} is given twice (first at line {seen[day.date]})")
            seen[day.date] = day.line
            days.append(day)
        if not days:
            self.fail(fields["days"].line, "days is empty: a programme needs at least one day")
        return ProgrammeSpec(
            slug=slug,
            title=self.localized(fields["title"], "title"),
            timezone=timezone,
            languages=self._languages,
            streams=streams,
            days=tuple(sorted(days, key=lambda d: d.date)),
            source=self.source,
            reminders=self.reminders(_given(fields.get("reminders"))),
            speaking_order=self.speaking_order(_given(fields.get("speaking_order"))),
        )

    def languages(self, field: _Field) -> tuple[str, ...]:
        languages: list[str] = []
        for node in self.sequence(field, "languages"):
            item = _Field(_line(node), node)
            language = self.text(item, "a language")
            if not LANGUAGE_RE.match(language):
                self.fail(item.line, f"language '{language}' is not a language code like fr or pt-BR")
            if language in languages:
                self.fail(item.line, f"language '{language}' is listed twice")
            languages.append(language)
        if not languages:
            self.fail(field.line, "languages is empty: list at least the original language")
        return tuple(languages)

    def reminders(self, field: _Field | None) -> ReminderSpec | None:
        """`reminders: {attendees: ["24h", "15m"], speakers: ["24h", "45m"]}`; a missing audience keeps its default."""
        if field is None:
            return None
        default = ReminderSpec()
        values = {"attendees": default.attendees, "speakers": default.speakers}
        for audience, item in self.mapping(field.node, "reminders", (), REMINDER_AUDIENCES).items():
            offsets: list[int] = []
            for node in self.sequence(item, f"reminders.{audience}"):
                entry = _Field(_line(node), node)
                text = self.text(entry, f"a reminder of {audience}")
                try:
                    minutes = parse_offset(text)
                except ValueError as exc:
                    self.fail(entry.line, f"reminders.{audience}: {exc}")
                if minutes in offsets:
                    self.fail(entry.line, f"reminders.{audience}: {format_offset(minutes)} is given twice")
                offsets.append(minutes)
            values[audience] = tuple(sorted(offsets, reverse=True))
        return ReminderSpec(attendees=values["attendees"], speakers=values["speakers"])

    def speaking_order(self, field: _Field | None) -> tuple[str, ...] | None:
        """`speaking_order: [member_state, intergovernmental, ...]`: the order of categories for the
        list of speakers by category; categories not listed come after, alike."""
        if field is None:
            return None
        names: list[str] = []
        for node in self.sequence(field, "speaking_order"):
            item = _Field(_line(node), node)
            names.append(self.text(item, "a category of speaking_order"))
            try:
                check_category_order(names)
            except BadCategoryOrder as exc:
                self.fail(item.line, f"speaking_order: {exc}")
        if not names:
            self.fail(field.line, "speaking_order is empty: list categories, or leave it out for the default order")
        return tuple(names)

    def streams(self, field: _Field | None) -> dict[str, str]:
        if field is None:
            return {}
        if not isinstance(field.node, MappingNode):
            self.fail(field.line, f"streams must map channels to http(s) URLs, got {_show(field.node)}")
        streams: dict[str, str] = {}
        for channel, item in self.mapping(field.node, "streams", (), None).items():
            url = self.text(item, f"stream '{channel}'")
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                self.fail(item.line, f"stream '{channel}' must be an http(s) URL, got '{url}'")
            streams[channel] = url
        return streams

    def day(self, node: Node, zone: ZoneInfo) -> DaySpec:
        fields = self.mapping(node, "a day", ("date", "starts", "ends", "title", "segments"), ("theme",))
        date = self.date(fields["date"], "date")
        starts, ends = self.hours(fields, date, zone, f"day {date}")
        segments = [self.segment(item, date, zone) for item in self.sequence(fields["segments"], "segments")]
        if not segments:
            self.fail(fields["segments"].line, f"day {date} has no segments")
        segments.sort(key=lambda s: s.starts)
        for segment in segments:
            if segment.starts < starts or segment.ends > ends:
                self.fail(segment.line, f"{_named(segment)} is outside its day's hours ({_span(starts, ends)})")
        for before, after in pairwise(segments):
            if after.starts < before.ends:
                self.fail(after.line, f"{_named(after)} overlaps {_named(before)}")
        theme = _given(fields.get("theme"))
        return DaySpec(
            date=date,
            starts=starts,
            ends=ends,
            title=self.localized(fields["title"], "day title"),
            theme={} if theme is None else self.localized(theme, "day theme"),
            segments=tuple(segments),
            line=_line(node),
        )

    def segment(self, node: Node, date: dt.date, zone: ZoneInfo) -> SegmentSpec:
        required = ("key", "kind", "starts", "ends", "title")
        fields = self.mapping(node, "a segment", required, ("moderator", "speakers"))
        line = _line(node)
        key = self.text(fields["key"], "segment key")
        if not SEGMENT_KEY_RE.match(key):
            self.fail(fields["key"].line, f"segment key '{key}' must match {SEGMENT_KEY_RE.pattern}")
        if key in self._segment_lines:
            first = self._segment_lines[key]
            self.fail(fields["key"].line, f"segment key '{key}' is used twice (first at line {first})")
        self._segment_lines[key] = line
        what = f"segment '{key}'"
        kind = self.text(fields["kind"], f"{what} kind")
        if kind not in KINDS:
            self.fail(fields["kind"].line, f"{what} has unknown kind '{kind}' (one of: {', '.join(KINDS)})")
        starts, ends = self.hours(fields, date, zone, what)
        moderator = _given(fields.get("moderator"))
        speakers = _given(fields.get("speakers"))
        return SegmentSpec(
            key=key,
            kind=KINDS[kind],
            starts=starts,
            ends=ends,
            title=self.localized(fields["title"], f"{what} title"),
            moderator=None if moderator is None else self.person(moderator.node),
            speakers=tuple(map(self.person, [] if speakers is None else self.sequence(speakers, "speakers"))),
            line=line,
        )

    def person(self, node: Node) -> PersonSpec:
        fields = self.mapping(node, "a person", ("name",), ("title", "affiliation", "video_message", "email"))
        video = fields.get("video_message")
        if video is not None and video.node.tag != _BOOL:
            self.fail(video.line, f"video_message must be true or false, got {_show(video.node)}")
        email = self.optional_text(fields.get("email"), "a person's email")
        if email is not None and not _EMAIL_RE.match(email.strip()):
            self.fail(fields["email"].line, f"a person's email '{email}' is not an email address")
        return PersonSpec(
            name=self.text(fields["name"], "a person's name"),
            title=self.optional_text(fields.get("title"), "a person's title"),
            affiliation=self.optional_text(fields.get("affiliation"), "a person's affiliation"),
            video_message=video is not None and bool(self._constructor.construct_object(video.node)),
            email=None if email is None else email.strip(),
        )

    def hours(self, fields: dict[str, _Field], date: dt.date, zone: ZoneInfo, what: str) -> tuple[dt.time, dt.time]:
        """`starts` and `ends`: wall-clock times that exist on `date`, the end after the start."""
        starts, ends = (
            self.time(fields["starts"], f"{what} starts"),
            self.time(fields["ends"], f"{what} ends"),
        )
        for name, time in (("starts", starts), ("ends", ends)):
            local = dt.datetime.combine(date, time, tzinfo=zone)
            # A time skipped when the clocks go forward has no instant: refuse it rather than guess.
            if local.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
                self.fail(fields[name].line, f"{what} {name} {time:%H:%M} does not exist in {zone.key} on {date}")
        if ends <= starts:
            self.fail(fields["ends"].line, f"{what} ends at {ends:%H:%M}, not after it starts at {starts:%H:%M}")
        return starts, ends


def _given(field: _Field | None) -> _Field | None:
    """An optional field, or None when it is absent or null."""
    return None if field is None or field.node.tag == _NULL else field


def _line(node: Node) -> int:
    return node.start_mark.line + 1 if node.start_mark is not None else 1


def _show(node: Node) -> str:
    """A short, one-line picture of what the file holds at a node, for error messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = str(node.value)
    if node.tag == _NULL:
        return "nothing (null)"
    shown = value if len(value) <= 40 else value[:37] + "..."
    return f'"{shown}"' if node.tag == _STR else shown


def _span(starts: dt.time, ends: dt.time) -> str:
    return f"{starts:%H:%M}-{ends:%H:%M}"


def _named(segment: SegmentSpec) -> str:
    return f"segment '{segment.key}' ({_span(segment.starts, segment.ends)})"
