"""The programme file format: the shipped IDM 2022 file against its published page, and every refusal."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from server.programme import (
    PersonSpec,
    ProgrammeError,
    ProgrammeSpec,
    SegmentSpec,
    load_programme,
    parse_programme,
)
from tests.seed_page import SeedPage, load_seed_page, parse_seed_page

SHIPPED = Path(__file__).resolve().parent.parent / "config" / "programmes" / "idm-2022-1.yaml"
UTC = dt.UTC


@pytest.fixture(scope="module")
def spec() -> ProgrammeSpec:
    return load_programme(SHIPPED)


@pytest.fixture(scope="module")
def page() -> SeedPage:
    return load_seed_page()


def published(person: PersonSpec) -> str:
    """The line the page prints for a person: the invariant every person in the file must keep."""
    line = ", ".join(filter(None, [person.name, person.title, person.affiliation]))
    return line + (" (message vidéo)" if person.video_message else "")


def page_time(time: dt.time) -> str:
    return f"{time.hour}:{time.minute:02d}"  # the page writes "9:00", not "09:00"


def differences(spec: ProgrammeSpec, page: SeedPage) -> list[str]:
    """Every place where the French text or times of the programme differ from the page, exactly."""
    found: list[str] = []

    def check(what: str, ours: object, theirs: object) -> None:
        if ours != theirs:
            found.append(f"{what}: file has {ours!r}, page has {theirs!r}")

    check("number of days", len(spec.days), len(page.days))
    for day, seed_day in zip(spec.days, page.days, strict=False):
        check(f"{day.date} title", day.title["fr"], seed_day.label)
        check(f"{day.date} theme", day.theme["fr"] if day.theme else None, seed_day.theme)
        check(f"{day.date} number of segments", len(day.segments), len(seed_day.segments))
        for segment, seed in zip(day.segments, seed_day.segments, strict=False):
            check(f"{segment.key} starts", page_time(segment.starts), seed.starts)
            check(f"{segment.key} ends", page_time(segment.ends), seed.ends)
            check(f"{segment.key} heading", segment.title["fr"], seed.heading)
            moderator = published(segment.moderator) if segment.moderator else None
            check(f"{segment.key} moderator", moderator, seed.moderator)
            check(f"{segment.key} number of speakers", len(segment.speakers), len(seed.speakers))
            for index, (person, line) in enumerate(zip(segment.speakers, seed.speakers, strict=False)):
                check(f"{segment.key} speaker {index + 1}", published(person), line)
    return found


# -- the shipped file --------------------------------------------------------------------------


def test_shipped_programme_has_three_days_and_nine_segments(spec: ProgrammeSpec) -> None:
    assert spec.slug == "idm-2022-1"
    assert spec.languages == ("fr", "en", "es")
    assert spec.timezone == "America/New_York"
    assert spec.streams == {}
    assert [day.date for day in spec.days] == [dt.date(2022, 2, 28), dt.date(2022, 3, 1), dt.date(2022, 3, 2)]
    assert [len(day.segments) for day in spec.days] == [3, 3, 3]
    assert [segment.key for _, segment in spec.segments()] == [
        "d1-opening", "d1-panel-1", "d1-panel-2",
        "d2-panel-1", "d2-panel-2", "d2-panel-3",
        "d3-panel-1", "d3-panel-2", "d3-closing",
    ]  # fmt: skip
    assert spec.source == str(SHIPPED)


def test_shipped_instants_are_new_york_time_in_winter(spec: ProgrammeSpec) -> None:
    day, opening = spec.find_segment("d1-opening")
    starts_at, ends_at = spec.segment_bounds(day, opening)
    assert starts_at.tzinfo is not None
    assert starts_at.astimezone(UTC) == dt.datetime(2022, 2, 28, 14, 0, tzinfo=UTC)  # 9:00 EST
    assert ends_at.astimezone(UTC) == dt.datetime(2022, 2, 28, 14, 30, tzinfo=UTC)
    day, closing = spec.find_segment("d3-closing")
    assert [at.astimezone(UTC) for at in spec.segment_bounds(day, closing)] == [
        dt.datetime(2022, 3, 2, 16, 30, tzinfo=UTC),
        dt.datetime(2022, 3, 2, 17, 0, tzinfo=UTC),
    ]
    assert [tuple(at.astimezone(UTC).hour for at in spec.day_bounds(day)) for day in spec.days] == [
        (14, 17),
        (14, 17),
        (14, 17),
    ]
    utc = [
        f"{starts.astimezone(UTC):%m-%d %H:%M}-{ends.astimezone(UTC):%H:%M} {segment.key}"
        for day, segment in spec.segments()
        for starts, ends in [spec.segment_bounds(day, segment)]
    ]
    assert utc == [
        "02-28 14:00-14:30 d1-opening",
        "02-28 14:30-15:45 d1-panel-1",
        "02-28 15:45-17:00 d1-panel-2",
        "03-01 14:00-15:00 d2-panel-1",
        "03-01 15:00-16:00 d2-panel-2",
        "03-01 16:00-17:00 d2-panel-3",
        "03-02 14:00-15:15 d3-panel-1",
        "03-02 15:15-16:30 d3-panel-2",
        "03-02 16:30-17:00 d3-closing",
    ]
    with pytest.raises(KeyError):
        spec.find_segment("d4-panel-1")


def test_shipped_days_match_the_page_period(spec: ProgrammeSpec, page: SeedPage) -> None:
    # "du 28 février au 2 mars, de 9 heures à 12 heures (heure de New York)"
    assert page.time_of == "New York" and spec.timezone == "America/New_York"
    assert spec.days[0].date == page.first_date and spec.days[-1].date == page.last_date
    assert [day.date for day in spec.days] == [page.first_date + dt.timedelta(days=n) for n in range(3)]
    for day in spec.days:
        assert (page_time(day.starts), page_time(day.ends)) == (page.day_starts, page.day_ends)


def test_shipped_french_text_is_the_page_character_for_character(spec: ProgrammeSpec, page: SeedPage) -> None:
    assert len(page.segments()) == 9
    assert differences(spec, page) == []


def test_shipped_speaker_lines_follow_the_published_order(spec: ProgrammeSpec, page: SeedPage) -> None:
    ours = [published(person) for _, segment in spec.segments() for person in segment.speakers]
    assert ours == [line for segment in page.segments() for line in segment.speakers]
    assert [p.published_line() for _, s in spec.segments() for p in s.speakers] == ours


def test_seed_page_parser_joins_wrapped_moderator_lines_and_refuses_the_unknown() -> None:
    agenda = (
        "intro\nPremière journée – Thème\n9:00-9:30 Panel 1 : Titre\n"
        "Modératrice : Ada Lovelace, Directrice de\nl’OIM\n"
        "Orateurs:\n- Bob, Chef, CICR\n- Documents de l'événement\n- Bob, not a speaker\n"
        "Aperçu du 28 février au 2 mars, de 9 heures à 12 heures (heure de New York), (IDM) 2022"
    )
    page = parse_seed_page(agenda)
    (segment,) = page.segments()
    assert (segment.starts, segment.ends, segment.heading) == ("9:00", "9:30", "Panel 1 : Titre")
    assert (segment.moderator_label, segment.moderator) == (
        "Modératrice",
        "Ada Lovelace, Directrice de l’OIM",
    )
    assert segment.speakers == ["Bob, Chef, CICR"]
    with pytest.raises(ValueError, match="line 7: not understood"):
        parse_seed_page(agenda.replace("Orateurs:\n", "Orateurs:\nune ligne égarée\n"))


def _mutate(spec: ProgrammeSpec, key: str, change: Callable[[SegmentSpec], SegmentSpec]) -> ProgrammeSpec:
    days = tuple(
        replace(day, segments=tuple(change(s) if s.key == key else s for s in day.segments)) for day in spec.days
    )
    return replace(spec, days=days)


def _first_speaker(change: Callable[[PersonSpec], PersonSpec]) -> Callable[[SegmentSpec], SegmentSpec]:
    return lambda segment: replace(segment, speakers=(change(segment.speakers[0]), *segment.speakers[1:]))


@pytest.mark.parametrize(
    ("key", "change"),
    [
        pytest.param(
            "d1-opening",
            _first_speaker(lambda p: replace(p, title=(p.title or "").replace("’", "'"))),
            id="straight-apostrophe",
        ),
        pytest.param(
            "d2-panel-1",
            lambda s: replace(
                s,
                moderator=replace(s.moderator, title="Directrice générale adjointe chargée des opérations de l’OIM"),
            ),
            id="lower-case-generale-on-day-2",
        ),
        pytest.param(
            "d3-panel-2",
            lambda s: replace(s, moderator=replace(s.moderator, name="Amy Pope")),
            id="amy-pope-without-initial",
        ),
        pytest.param(
            "d1-opening",
            lambda s: replace(
                s, speakers=(s.speakers[0], replace(s.speakers[1], video_message=False), *s.speakers[2:])
            ),
            id="video-message-dropped",
        ),
        pytest.param("d3-closing", _first_speaker(lambda p: replace(p, name=p.name + " ")), id="trailing-space"),
        pytest.param(
            "d2-panel-2",
            lambda s: replace(s, title={**s.title, "fr": s.title["fr"].replace("à l’ère", "a l’ère")}),
            id="accent-in-heading",
        ),
        pytest.param("d1-panel-2", lambda s: replace(s, ends=dt.time(11, 59)), id="end-time"),
        pytest.param("d3-panel-1", lambda s: replace(s, speakers=s.speakers[::-1]), id="speaker-order"),
    ],
)
def test_comparison_with_the_page_catches_a_single_difference(
    spec: ProgrammeSpec, page: SeedPage, key: str, change: Callable[[SegmentSpec], SegmentSpec]
) -> None:
    found = differences(_mutate(spec, key, change), page)
    assert found and all(line.startswith(key) for line in found)


def test_shipped_kinds_follow_the_headings(spec: ProgrammeSpec) -> None:
    for _, segment in spec.segments():
        heading = segment.title["fr"]
        expected = "opening" if heading.startswith("Ouverture") else "closing" if heading == "Clôture" else "panel"
        assert segment.kind == expected, segment.key
        assert heading.startswith("Panel") == (segment.kind == "panel")


def test_shipped_english_and_spanish_titles_exist_everywhere(spec: ProgrammeSpec) -> None:
    assert spec.title["en"] and spec.title["es"]
    texts = [spec.title]
    for day in spec.days:
        texts += [day.title, day.theme, *(segment.title for segment in day.segments)]
    assert len(texts) == 1 + 3 * 2 + 9
    for text in texts:
        assert set(text) == {"fr", "en", "es"}
        for lang in ("en", "es"):
            assert text[lang].strip() and text[lang] != text["fr"], text
        assert text["es"] != text["en"], text


# -- refusals ----------------------------------------------------------------------------------

# Line numbers of this programme are used in the expectations below.
VALID = textwrap.dedent(
    """\
    slug: demo-1
    title: {fr: "Démo", en: "Demo"}
    timezone: Europe/Paris
    languages: [fr, en]
    days:
      - date: 2022-02-28
        starts: "09:00"
        ends: "12:00"
        title: {fr: "Jour 1"}
        segments:
          - key: opening
            kind: opening
            starts: "09:00"
            ends: "09:30"
            title: {fr: "Ouverture"}
            speakers:
              - name: "Ada"
                title: "Directrice"
          - key: panel
            kind: panel
            starts: "09:30"
            ends: "10:30"
            title: {fr: "Panel", en: "Panel"}
            moderator: {name: "Bob", affiliation: "OIM"}
    """
)
SECOND_DAY = """\
  - date: 2022-03-01
    starts: "09:00"
    ends: "12:00"
    title: {fr: "Jour 2"}
    segments:
      - {key: day-2, kind: panel, starts: "09:00", ends: "10:00", title: {fr: "Panel"}}
"""


def edited(old: str, new: str, text: str = VALID) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def refusal(tmp_path: Path, text: str) -> ProgrammeError:
    path = tmp_path / "programme.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProgrammeError) as caught:
        load_programme(path)
    error = caught.value
    assert str(error) == f"{path}:{error.line}: {error.message}"
    assert str(error).startswith(str(path)) and "\n" not in str(error)
    return error


def test_the_valid_example_parses(tmp_path: Path) -> None:
    spec = parse_programme(VALID + SECOND_DAY.replace("2022-03-01", "2022-03-02"))
    assert spec.source == "<string>"
    assert [segment.key for _, segment in spec.segments()] == ["opening", "panel", "day-2"]
    day, panel = spec.find_segment("panel")
    assert panel.line == 19 and day.line == 6
    assert panel.moderator == PersonSpec(name="Bob", title=None, affiliation="OIM", video_message=False)
    assert panel.title == {"fr": "Panel", "en": "Panel"}
    assert day.theme == {}
    assert spec.segment_bounds(day, panel)[0].astimezone(UTC) == dt.datetime(2022, 2, 28, 8, 30, tzinfo=UTC)


def test_segments_and_days_come_out_in_time_order() -> None:
    text = edited('starts: "09:00"\n        ends: "09:30"', 'starts: "10:30"\n        ends: "11:00"')
    spec = parse_programme(text)
    assert [segment.key for segment in spec.days[0].segments] == ["panel", "opening"]
    earlier = edited("days:\n", "days:\n" + SECOND_DAY.replace("2022-03-01", "2022-02-27"))
    assert [day.date.day for day in parse_programme(earlier).days] == [27, 28]


REFUSALS = [
    pytest.param(
        edited('title: {fr: "Démo", en: "Demo"}', 'title: {fr: "Démo", en: "Demo"'),
        3,
        "bad YAML: expected ',' or '}', but got '<scalar>' (while parsing a flow mapping)",
        id="bad-yaml",
    ),
    pytest.param(
        edited('    starts: "09:00"\n    ends', '  starts: "09:00"\n    ends'),
        7,
        "bad YAML: expected <block end>, but found '?' (while parsing a block collection)",
        id="bad-yaml-indentation",
    ),
    pytest.param(
        "- slug: demo-1\n",
        1,
        "a programme must be a mapping with slug, title, timezone, languages, days; got a list",
        id="not-a-mapping",
    ),
    pytest.param(
        "# nothing yet\n",
        1,
        "the file is empty: expected a mapping with slug, title, timezone, languages, days",
        id="empty-file",
    ),
    pytest.param(
        edited("timezone: Europe/Paris\n", ""),
        1,
        "the programme is missing the key 'timezone'",
        id="missing-key",
    ),
    pytest.param(
        edited("languages: [fr, en]\n", "languages: [fr, en]\nvenue: online\n"),
        5,
        "unknown key 'venue' in the programme "
        "(allowed: slug, title, timezone, languages, days, streams, reminders, speaking_order)",
        id="unknown-key",
    ),
    pytest.param(
        edited('    title: "Directrice"\n', '    title: "Directrice"\n            role: "Oratrice"\n'),
        19,
        "unknown key 'role' in a person (allowed: name, title, affiliation, video_message, email)",
        id="unknown-person-key",
    ),
    pytest.param(
        edited("timezone: Europe/Paris\n", "timezone: Europe/Paris\nslug: demo-2\n"),
        4,
        "key 'slug' is given twice in the programme (first at line 1)",
        id="duplicate-key",
    ),
    pytest.param(
        edited("slug: demo-1", "slug: Demo_1"),
        1,
        "slug 'Demo_1' must match ^[a-z0-9][a-z0-9-]{1,62}$",
        id="bad-slug",
    ),
    pytest.param(
        edited("timezone: Europe/Paris", "timezone: Europe/Parys"),
        3,
        "unknown time zone 'Europe/Parys' (use an IANA name like Europe/Paris)",
        id="unknown-time-zone",
    ),
    pytest.param(
        edited("date: 2022-02-28", "date: 28/02/2022"),
        6,
        'date must be a date YYYY-MM-DD, got "28/02/2022"',
        id="bad-date-format",
    ),
    pytest.param(
        edited("date: 2022-02-28", "date: 2022-02-30"),
        6,
        "date 2022-02-30 is not a calendar date",
        id="no-such-date",
    ),
    pytest.param(
        edited('ends: "12:00"', "ends: 12:00"),
        8,
        'day 2022-02-28 ends must be a quoted "HH:MM" time, got 12:00 '
        "(quote times: unquoted, YAML reads 9:00 as the number 540)",
        id="unquoted-time",
    ),
    pytest.param(
        edited('ends: "09:30"', 'ends: "9h30"'),
        14,
        'segment \'opening\' ends must be a "HH:MM" time, got "9h30"',
        id="bad-time-format",
    ),
    pytest.param(
        edited('ends: "12:00"', 'ends: "25:00"'),
        8,
        'day 2022-02-28 ends "25:00" is outside the day (00:00 to 23:59)',
        id="day-outside-the-clock",
    ),
    pytest.param(
        edited('ends: "12:00"', 'ends: "09:00"'),
        8,
        "day 2022-02-28 ends at 09:00, not after it starts at 09:00",
        id="day-ends-not-after-start",
    ),
    pytest.param(
        VALID + SECOND_DAY.replace("2022-03-01", "2022-02-28"),
        25,
        "day 2022-02-28 is given twice (first at line 6)",
        id="duplicate-day",
    ),
    pytest.param(
        edited('ends: "09:30"', 'ends: "08:45"'),
        14,
        "segment 'opening' ends at 08:45, not after it starts at 09:00",
        id="segment-ends-before-start",
    ),
    pytest.param(
        edited('ends: "10:30"', 'ends: "12:30"'),
        19,
        "segment 'panel' (09:30-12:30) is outside its day's hours (09:00-12:00)",
        id="segment-outside-day",
    ),
    pytest.param(
        edited('ends: "09:30"', 'ends: "09:45"'),
        19,
        "segment 'panel' (09:30-10:30) overlaps segment 'opening' (09:00-09:45)",
        id="overlapping-segments",
    ),
    pytest.param(
        edited("key: panel", "key: opening"),
        19,
        "segment key 'opening' is used twice (first at line 11)",
        id="duplicate-segment-key",
    ),
    pytest.param(
        edited("kind: panel", "kind: keynote"),
        20,
        "segment 'panel' has unknown kind 'keynote' (one of: opening, panel, closing)",
        id="unknown-kind",
    ),
    pytest.param(
        edited('        title: {fr: "Panel", en: "Panel"}\n', ""),
        19,
        "a segment is missing the key 'title'",
        id="missing-title",
    ),
    pytest.param(
        edited('title: {fr: "Panel", en: "Panel"}', 'title: {fr: "", en: "Panel"}'),
        23,
        "segment 'panel' title.fr is empty",
        id="empty-title",
    ),
    pytest.param(
        edited('title: {fr: "Panel", en: "Panel"}', 'title: {en: "Panel"}'),
        23,
        "segment 'panel' title has no 'fr' text (the first of languages is required)",
        id="title-without-first-language",
    ),
    pytest.param(
        edited('title: {fr: "Jour 1"}', "title:\n      fr: Jour 1\n      de: Tag 1"),
        11,
        "day title has language 'de', not in languages (fr, en)",
        id="title-language-not-in-languages",
    ),
    pytest.param(
        edited('moderator: {name: "Bob", affiliation: "OIM"}', 'moderator: {name: "", affiliation: "OIM"}'),
        24,
        "a person's name is empty",
        id="empty-person-name",
    ),
    pytest.param(
        edited('- name: "Ada"\n            title', "- title"),
        17,
        "a person is missing the key 'name'",
        id="missing-person-name",
    ),
    pytest.param(
        edited('title: "Directrice"\n', 'title: "Directrice"\n            video_message: "yes"\n'),
        19,
        'video_message must be true or false, got "yes"',
        id="video-message-not-bool",
    ),
    pytest.param(
        edited("languages: [fr, en]\n", "languages: [fr, en]\nstreams: [https://example.org/live]\n"),
        5,
        "streams must map channels to http(s) URLs, got a list",
        id="streams-not-a-mapping",
    ),
    pytest.param(
        edited(
            "languages: [fr, en]\n",
            "languages: [fr, en]\nstreams:\n  floor: https://example.org/live\n  en: ftp://example.org/en\n",
        ),
        7,
        "stream 'en' must be an http(s) URL, got 'ftp://example.org/en'",
        id="stream-not-http",
    ),
    pytest.param(
        edited(
            "date: 2022-02-28",
            "date: 2022-03-27",
            edited('    starts: "09:00"\n    ends', '    starts: "02:30"\n    ends'),
        ),
        7,
        "day 2022-03-27 starts 02:30 does not exist in Europe/Paris on 2022-03-27",
        id="time-skipped-by-daylight-saving",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), REFUSALS)
def test_refused_with_the_place_and_the_reason(tmp_path: Path, text: str, line: int, message: str) -> None:
    error = refusal(tmp_path, text)
    assert (error.line, error.message) == (line, message)


def test_error_string_is_one_line_source_line_message() -> None:
    error = ProgrammeError("config/x.yaml", 7, "two\nlines")
    assert str(error) == "config/x.yaml:7: two lines"
    with pytest.raises(ProgrammeError, match=r"^<string>:1: slug 'X'"):
        parse_programme(edited("slug: demo-1", "slug: X"))
