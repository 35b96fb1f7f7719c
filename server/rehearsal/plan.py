"""What a rehearsal will play, decided before anything runs: the virtual timeline and the people.

Pure: a seeded ``random.Random`` and the programme's instants in, plain data out. The same seed,
size and programme give the same plan, so a failing rehearsal can be played again.

The timeline is a few *windows* of virtual time played at the chosen speed, with jumps between them
over the stretches where nothing happens (nights, and the quiet parts of the hour before a
morning): one window around the first reminders (24 h before the first morning), then per morning a
short window around each burst of reminders before it (the moderators' 45 minutes, the attendees'
15 minutes) and one from a little before the first planned join until the last people have left.
Every reminder of the default schedule falls inside a window.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# before the first reminder, so the rehearsal sees the first scan pick it up
LEAD_BEFORE_FIRST_REMINDER = timedelta(minutes=10)
FIRST_WINDOW_AFTER_REMINDER = timedelta(minutes=20)
MORNING_LEAD = timedelta(minutes=50)  # a morning's window opens this long before it starts
MORNING_TAIL = timedelta(minutes=20)  # and closes this long after its scheduled end
JUMP_REAL_S = 2.0  # real seconds between the end of a window and the jump to the next one
JOIN_LEAD = timedelta(minutes=2)  # the morning's main window opens this long before the first join
SMALL_BURST_AFTER = timedelta(minutes=5)  # a window around a few reminders lasts this long past their due


@dataclass(frozen=True)
class SegmentPlan:
    id: int
    key: str
    starts_at: datetime
    ends_at: datetime
    people: tuple[int, ...]  # programme person ids, in programme order


@dataclass(frozen=True)
class MorningPlan:
    day: str  # YYYY-MM-DD, the report's scope
    starts_at: datetime
    ends_at: datetime
    segments: tuple[SegmentPlan, ...]


@dataclass(frozen=True)
class Window:
    starts_at: datetime  # virtual
    ends_at: datetime  # virtual
    morning: MorningPlan | None  # None: a window where only reminders go out
    label: str = "first reminders"


@dataclass(frozen=True)
class Burst:
    """Reminders that come due together: ``count`` mails at ``due``."""

    due: datetime
    count: int


@dataclass(frozen=True)
class Timeline:
    """Windows of virtual time played at ``speed``, slower where a burst of reminders goes out.

    The workers send mail at a real rate (``mail_rate`` a second, measured: each send is a task that
    claims, composes, sends and records); at 120x, 300 reminders would take an hour and a half of
    virtual time and miss a 15-minute reminder. So around each burst the clock slows down to the
    pace at which the burst takes ``BURST_VIRTUAL`` of virtual time, as a replay goes to slow
    motion: every process still agrees on the time, and what is checked stays what was promised.
    """

    windows: tuple[Window, ...]
    speed: float
    slow: tuple[tuple[datetime, datetime, float], ...] = ()

    def spans(self, window: Window) -> list[tuple[datetime, datetime, float]]:
        """(start, end, speed) pieces covering ``window``."""
        edges = sorted(
            {
                window.starts_at,
                window.ends_at,
                *(t for start, end, _ in self.slow for t in (start, end) if window.starts_at < t < window.ends_at),
            }
        )
        out: list[tuple[datetime, datetime, float]] = []
        for start, end in zip(edges, edges[1:], strict=False):
            pace = min([self.speed, *(v for a, b, v in self.slow if a <= start and end <= b)])
            if out and out[-1][2] == pace:
                out[-1] = (out[-1][0], end, pace)
            else:
                out.append((start, end, pace))
        return out

    def pieces(self) -> list[tuple[float, datetime, float]]:
        """(real seconds after the anchor, virtual instant, speed) for PARLEY_CLOCK_TIMELINE."""
        pieces: list[tuple[float, datetime, float]] = []
        offset = 0.0
        for window in self.windows:
            for number, (start, end, pace) in enumerate(self.spans(window)):
                at = round(offset, 3)
                shown = start
                if number > 0:  # a change of pace: where the clock has got to at the rounded offset
                    before, instant, previous = pieces[-1]
                    shown = instant + timedelta(seconds=(at - before) * previous)
                pieces.append((at, shown, pace))
                offset += (end - start).total_seconds() / pace
            offset += JUMP_REAL_S
        return pieces

    def real_seconds(self) -> float:
        return sum(
            (end - start).total_seconds() / pace for window in self.windows for start, end, pace in self.spans(window)
        ) + JUMP_REAL_S * len(self.windows)

    @property
    def starts_at(self) -> datetime:
        return self.windows[0].starts_at

    @property
    def ends_at(self) -> datetime:
        return self.windows[-1].ends_at

    def played(self, instant: datetime) -> bool:
        return any(w.starts_at <= instant <= w.ends_at for w in self.windows)


BURST_VIRTUAL = timedelta(minutes=10)  # a burst of reminders may take this long in virtual time
SLOW_BEFORE = timedelta(minutes=1)
SLOW_AFTER = BURST_VIRTUAL + timedelta(minutes=2)
BURST_MIN = 10  # fewer mails than this go out at full speed


def plan_timeline(
    mornings: list[MorningPlan],
    *,
    speed: float,
    first_reminder: timedelta,
    start: datetime | None = None,
    bursts: list[Burst] = (),  # type: ignore[assignment]
    mail_rate: float = 50.0,
    first_joins: dict[str, datetime] | None = None,
) -> Timeline:
    """Windows for ``mornings`` (in order): the first reminders, then each morning, slowed down
    around ``bursts`` of reminders so the workers, sending ``mail_rate`` mails a real second, send
    each burst within ``BURST_VIRTUAL``.

    Before a morning the timeline plays only what is due: a window around each burst of reminders
    in the hour before it, and the morning itself from ``JOIN_LEAD`` before its first planned join
    (``first_joins``, by day; the scheduled start when not given). Where two of them are closer
    than a jump is worth, they are one window.

    ``first_reminder`` is the earliest reminder offset (24 h by default); ``start`` overrides where
    virtual time begins (``--from``), which must be before the first morning's window.
    """
    first = mornings[0]
    opening = start or first.starts_at - first_reminder - LEAD_BEFORE_FIRST_REMINDER
    first_morning_begins = first.starts_at - MORNING_LEAD
    windows: list[Window] = []
    reminders_end = opening + LEAD_BEFORE_FIRST_REMINDER + FIRST_WINDOW_AFTER_REMINDER
    if reminders_end < first_morning_begins:
        windows.append(Window(opening, reminders_end, None))
    # a jump is worth it when it saves more real time than the pause it costs, twice over
    worth_jumping = timedelta(seconds=4 * JUMP_REAL_S * speed)
    for morning in mornings:
        lead = morning.starts_at - MORNING_LEAD
        if not windows:
            lead = min(lead, opening)
        joins = (first_joins or {}).get(morning.day, morning.starts_at)
        main_from = max(lead, min(joins, morning.starts_at) - JOIN_LEAD).replace(microsecond=0)
        spans = [
            (max(lead, b.due - SLOW_BEFORE), b.due + (SLOW_AFTER if b.count >= BURST_MIN else SMALL_BURST_AFTER))
            for b in sorted(bursts, key=lambda b: b.due)
            if lead <= b.due < main_from
        ]
        spans = [(lead, spans[0][1] if spans and spans[0][0] == lead else lead + SMALL_BURST_AFTER), *spans]
        merged: list[tuple[datetime, datetime]] = []
        for begin, end in [*spans, (main_from, morning.ends_at + MORNING_TAIL)]:
            if merged and begin - merged[-1][1] < worth_jumping:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((begin, end))
        for begin, end in merged[:-1]:
            windows.append(Window(begin, end, None, f"reminders before morning {morning.day}"))
        windows.append(Window(merged[-1][0], merged[-1][1], morning, f"morning {morning.day}"))
    slow = tuple(
        (
            b.due - SLOW_BEFORE,
            b.due + SLOW_AFTER,
            max(1.0, min(speed, BURST_VIRTUAL.total_seconds() * mail_rate / b.count)),
        )
        for b in bursts
        if b.count >= BURST_MIN
    )
    return Timeline(tuple(windows), speed, slow)


# --- the people -------------------------------------------------------------------------------------

CATEGORIES = (
    ("member_state", 55),
    ("civil_society", 14),
    ("un_system", 10),
    ("intergovernmental", 8),
    ("academia", 7),
    ("media", 3),
    ("other", 3),
)
# (country, language, time zone): delegations from every region, in the event's three languages
COUNTRIES = (
    ("United States", "en", "America/New_York"),
    ("Canada", "en", "America/Toronto"),
    ("Mexico", "es", "America/Mexico_City"),
    ("Guatemala", "es", "America/Guatemala"),
    ("Colombia", "es", "America/Bogota"),
    ("Brazil", "en", "America/Sao_Paulo"),
    ("Argentina", "es", "America/Argentina/Buenos_Aires"),
    ("Chile", "es", "America/Santiago"),
    ("Spain", "es", "Europe/Madrid"),
    ("France", "fr", "Europe/Paris"),
    ("Belgium", "fr", "Europe/Brussels"),
    ("Switzerland", "fr", "Europe/Zurich"),
    ("Germany", "en", "Europe/Berlin"),
    ("Italy", "en", "Europe/Rome"),
    ("United Kingdom", "en", "Europe/London"),
    ("Morocco", "fr", "Africa/Casablanca"),
    ("Senegal", "fr", "Africa/Dakar"),
    ("Côte d'Ivoire", "fr", "Africa/Abidjan"),
    ("Niger", "fr", "Africa/Niamey"),
    ("Nigeria", "en", "Africa/Lagos"),
    ("Kenya", "en", "Africa/Nairobi"),
    ("Ethiopia", "en", "Africa/Addis_Ababa"),
    ("South Africa", "en", "Africa/Johannesburg"),
    ("Egypt", "en", "Africa/Cairo"),
    ("Türkiye", "en", "Europe/Istanbul"),
    ("Jordan", "en", "Asia/Amman"),
    ("Bangladesh", "en", "Asia/Dhaka"),
    ("India", "en", "Asia/Kolkata"),
    ("Philippines", "en", "Asia/Manila"),
    ("Japan", "en", "Asia/Tokyo"),
    ("Australia", "en", "Australia/Sydney"),
    ("Haiti", "fr", "America/Port-au-Prince"),
    ("", "en", "Europe/Zurich"),  # an organisation with no country (Geneva)
)
FIRST_NAMES = (
    "Ana",
    "Ben",
    "Chloé",
    "Diego",
    "Esi",
    "Farid",
    "Grace",
    "Hugo",
    "Inés",
    "Jomo",
    "Kenji",
    "Lucía",
    "Marie",
    "Nadia",
    "Omar",
    "Priya",
    "Quentin",
    "Rosa",
    "Samir",
    "Thandi",
    "Uma",
    "Víctor",
    "Wanjiru",
    "Xavier",
    "Yara",
    "Zoé",
)
LAST_NAMES = (
    "Okafor",
    "Silva",
    "Dubois",
    "García",
    "Mensah",
    "Haddad",
    "Kim",
    "Laurent",
    "Pérez",
    "Otieno",
    "Tanaka",
    "Martín",
    "Nguyen",
    "Rahman",
    "Sow",
    "Costa",
    "Müller",
    "Ndiaye",
)


@dataclass(frozen=True)
class Visit:
    """One connection of one person: when it opens, when it ends, and how."""

    opens_at: datetime
    ends_at: datetime
    drops: bool = False  # cut without a close (the network went away); the person comes back later
    tab: int = 0  # 0 = first tab, 1 = a second tab open at the same time


@dataclass
class MorningBehaviour:
    visits: list[Visit] = field(default_factory=list)
    asks: list[datetime] = field(default_factory=list)  # when they ask a question
    votes: list[datetime] = field(default_factory=list)  # when they vote (on a question on the board)
    floor_at: datetime | None = None  # when they ask for the floor
    withdraw_after: timedelta | None = None  # withdraw that long after, if still waiting


@dataclass
class Person:
    index: int
    name: str
    email: str
    organisation: str
    category: str
    country: str
    language: str
    timezone: str
    mornings: dict[str, MorningBehaviour] = field(default_factory=dict)


def _weighted(rng: random.Random, items: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in items], weights=[weight for _, weight in items])[0]


def plan_people(rng: random.Random, count: int, mornings: list[MorningPlan], domain: str) -> list[Person]:
    people = []
    for index in range(count):
        country, language, zone = rng.choice(COUNTRIES)
        category = _weighted(rng, CATEGORIES)
        if rng.random() < 0.15:  # a delegate who follows in another of the event's languages
            language = rng.choice(("fr", "en", "es"))
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        organisation = (
            country if category == "member_state" and country else f"{category.replace('_', ' ').title()} {index % 37}"
        )
        person = Person(index, name, f"delegate{index:05d}@{domain}", organisation, category, country, language, zone)
        for morning in mornings:
            person.mornings[morning.day] = plan_morning(rng, morning)
        people.append(person)
    return people


def first_joins(people: list[Person]) -> dict[str, datetime]:
    """The first planned join of each morning (day -> instant)."""
    out: dict[str, datetime] = {}
    for person in people:
        for day, behaviour in person.mornings.items():
            for visit in behaviour.visits:
                out[day] = min(out.get(day, visit.opens_at), visit.opens_at)
    return out


def _clamp(value: datetime, low: datetime, high: datetime) -> datetime:
    return max(low, min(high, value))


def plan_morning(rng: random.Random, morning: MorningPlan) -> MorningBehaviour:
    """Most join around 9:00 New York time, some late, some leave early, some drop and come back,
    some keep two tabs; a few ask questions, vote and ask for the floor. Nobody joins before the
    window (an hour before) nor stays past it."""
    behaviour = MorningBehaviour()
    if rng.random() < 0.08:
        return behaviour  # a no-show
    start, end = morning.starts_at, morning.ends_at
    minutes = timedelta(minutes=1)
    if rng.random() < 0.78:
        joins = start + rng.gauss(-3, 4) * minutes
    else:
        joins = start + rng.uniform(5, 100) * minutes
    joins = _clamp(joins, start - 20 * minutes, end - 30 * minutes)
    if rng.random() < 0.2:
        leaves = joins + rng.uniform(40, 140) * minutes
    else:
        leaves = end + rng.uniform(-4, 20) * minutes
    leaves = _clamp(leaves, joins + 20 * minutes, end + MORNING_TAIL - 3 * minutes)
    if rng.random() < 0.12:  # drops and comes back
        cut = joins + (leaves - joins) * rng.uniform(0.2, 0.6)
        back = cut + rng.uniform(1, 8) * minutes
        behaviour.visits += [Visit(joins, cut, drops=True), Visit(back, leaves)]
    else:
        behaviour.visits.append(Visit(joins, leaves))
    if rng.random() < 0.08:  # a second tab for a while
        opens = joins + rng.uniform(5, 40) * minutes
        closes = min(leaves - minutes, opens + rng.uniform(10, 60) * minutes)
        if closes > opens + 2 * minutes:
            behaviour.visits.append(Visit(opens, closes, tab=1))
    first_visit = behaviour.visits[0]
    span = (first_visit.opens_at + 3 * minutes, first_visit.ends_at - 3 * minutes)
    if span[1] > span[0]:
        if rng.random() < 0.1:
            behaviour.asks.append(span[0] + (span[1] - span[0]) * rng.random())
        for _ in range(rng.choice((0, 0, 1, 2, 3))):
            behaviour.votes.append(span[0] + (span[1] - span[0]) * rng.random())
        if rng.random() < 0.06:
            behaviour.floor_at = span[0] + (span[1] - span[0]) * rng.random()
            if rng.random() < 0.3:
                behaviour.withdraw_after = rng.uniform(2, 10) * minutes
    behaviour.votes.sort()
    return behaviour


def lateness(rng: random.Random) -> timedelta:
    """How late a panel starts or ends: a little, as real panels do."""
    return timedelta(seconds=rng.uniform(60, 240))


def utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)
