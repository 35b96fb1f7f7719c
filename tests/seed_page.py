"""A parser of the published seed page (IOM's French agenda of IDM 2022, first session).

Tests compare what Parley serves with what the organiser published, so this reads the page as
a human does, line by line, and refuses any line it does not understand rather than skip it:
a change to the page must fail loudly, not shrink the comparison.

The agenda on the page looks like this (with some variations handled below)::

    Première journée – Réduire les risques et les vulnérabilités pour les migrants
    9:30-10:45 Panel 1 : Sauver des vies et protéger les migrants en situation de vulnérabilité
    Modératrice : Ugochi Daniels, Directrice générale adjointe chargée des opérations de
    l’OIM                                   <- a moderator line wraps: joined with one space
    Orateurs :                              <- also "Orateurs:"; absent under the closing
    - Florian von König, Chef adjoint, Projet sur les personnes portées disparues, CICR
    ...
    - Documents de l'événement              <- page navigation again: a bullet with no comma ends it
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

SEED_PAGE = Path(__file__).parent / "data" / "idm-2022-session-1.fr.txt"

_DAY_RE = re.compile(r"^(?P<label>\S+ journée) – (?P<theme>.+)$")
_SEGMENT_RE = re.compile(r"^(?P<starts>\d{1,2}:\d\d)-(?P<ends>\d{1,2}:\d\d) (?P<heading>.+)$")
_MODERATOR_RE = re.compile(r"^(?P<label>Modérat(?:eur|rice)) : (?P<line>.+)$")
_SPEAKERS_RE = re.compile(r"^Orateurs ?:$")
_BULLET_RE = re.compile(r"^- (?P<line>.+)$")
# "... se déroulera en ligne du 28 février au 2 mars, de 9 heures à 12 heures (heure de New York)."
_PERIOD_RE = re.compile(
    r"du (?P<first>\d{1,2}) (?P<first_month>\w+) au (?P<last>\d{1,2}) (?P<last_month>\w+), "
    r"de (?P<starts>\d{1,2}) heures à (?P<ends>\d{1,2}) heures \(heure de (?P<place>[^)]+)\)"
)
_YEAR_RE = re.compile(r"\(IDM\) (?P<year>\d{4})")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre")  # fmt: skip


@dataclass
class SeedSegment:
    starts: str  # as published: "9:00"
    ends: str
    heading: str  # everything after the time range: "Panel 1 : Sauver des vies ..." or "Clôture"
    moderator_label: str | None = None  # "Modératrice" or "Modérateur"
    moderator: str | None = None  # the person's line, wrapped lines joined with one space
    speakers: list[str] = field(default_factory=list)  # each speaker's line, without the "- " bullet


@dataclass
class SeedDay:
    label: str  # "Première journée"
    theme: str
    segments: list[SeedSegment]


@dataclass
class SeedPage:
    first_date: dt.date
    last_date: dt.date
    day_starts: str  # "9:00", from "de 9 heures à 12 heures"
    day_ends: str
    time_of: str  # the city whose clock the page uses: "New York"
    days: list[SeedDay]

    def segments(self) -> list[SeedSegment]:
        return [segment for day in self.days for segment in day.segments]


def load_seed_page(path: Path = SEED_PAGE) -> SeedPage:
    return parse_seed_page(path.read_text(encoding="utf-8"))


def parse_seed_page(text: str) -> SeedPage:
    days: list[SeedDay] = []
    segment: SeedSegment | None = None
    wrapping_moderator = False  # the previous line was a moderator's: an unknown line continues it
    for number, line in enumerate(text.splitlines(), start=1):
        if not days and not _DAY_RE.match(line):
            continue  # navigation and introduction before the agenda
        if match := _DAY_RE.match(line):
            days.append(SeedDay(match["label"], match["theme"], []))
            segment, wrapping_moderator = None, False
        elif match := _SEGMENT_RE.match(line):
            segment = SeedSegment(match["starts"], match["ends"], match["heading"])
            days[-1].segments.append(segment)
            wrapping_moderator = False
        elif segment is None:
            raise ValueError(f"seed page line {number}: outside any segment: {line!r}")
        elif match := _MODERATOR_RE.match(line):
            if segment.moderator is not None:
                raise ValueError(f"seed page line {number}: a second moderator: {line!r}")
            segment.moderator_label, segment.moderator = match["label"], match["line"]
            wrapping_moderator = True
        elif _SPEAKERS_RE.match(line):
            wrapping_moderator = False
        elif match := _BULLET_RE.match(line):
            if "," not in match["line"]:
                break  # "- Documents de l'événement": the page's navigation, the agenda is over
            segment.speakers.append(match["line"])
            wrapping_moderator = False
        elif wrapping_moderator and segment.moderator is not None and line.strip():
            segment.moderator = f"{segment.moderator} {line.strip()}"
        else:
            raise ValueError(f"seed page line {number}: not understood: {line!r}")
    if not days:
        raise ValueError("seed page: no agenda found (no line like 'Première journée – ...')")
    return SeedPage(*_period(text), days=days)


def _period(text: str) -> tuple[dt.date, dt.date, str, str, str]:
    period, year = _PERIOD_RE.search(text), _YEAR_RE.search(text)
    if period is None or year is None:
        raise ValueError("seed page: no 'du ... au ..., de ... heures à ... heures' period or no year found")
    first = dt.date(int(year["year"]), _MONTHS.index(period["first_month"]) + 1, int(period["first"]))
    last = dt.date(int(year["year"]), _MONTHS.index(period["last_month"]) + 1, int(period["last"]))
    return first, last, f"{period['starts']}:00", f"{period['ends']}:00", period["place"]
