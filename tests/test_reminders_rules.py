"""Reminder rules, in-process: which reminders are due for whom (pure, with `now` given), the schedule in
programme files, the delivery record's claim, and what a mail says (language, times, join link, .ics)."""

from __future__ import annotations

import email
import textwrap
from datetime import UTC, date, datetime, time, timedelta
from email import policy
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from server.adapters.db.engine import make_sync_engine
from server.adapters.db.models import Registration, ReminderDelivery, ReminderSchedule, Segment
from server.programme import ProgrammeError, ReminderSpec, parse_programme
from server.services import reminders
from server.services.auth import JoinLinks
from server.services.reminders import DEFAULT_SCHEDULE, Rule, Schedule, due_rules
from server.services.reminders import deliveries as store
from tests.fixtures.celery import Attendee, build_world, deliveries
from tests.fixtures.parley import Parley
from tests.fixtures.smtp import Mailbox, ics_text, parse_ics
from tests.fixtures.smtp import mailbox as mailbox  # noqa: F401  (fixture)

NY = ZoneInfo("America/New_York")
H24, M15, M45 = timedelta(hours=24), timedelta(minutes=15), timedelta(minutes=45)
SECRET = "test-secret-key-not-for-production"


def nine_am(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=NY).astimezone(UTC)


# --- the rules ------------------------------------------------------------------------------------


def test_default_schedule_is_24h_and_15m_for_attendees_24h_and_45m_for_speakers() -> None:
    assert [r.kind for r in DEFAULT_SCHEDULE.rules()] == [
        "attendees-24h",
        "attendees-15m",
        "speakers-24h",
        "speakers-45m",
    ]
    start = nine_am(date(2031, 3, 4))
    assert [start - r.due_at(start) for r in DEFAULT_SCHEDULE.rules()] == [H24, M15, H24, M45]


def test_every_reminder_is_exactly_24h_or_15m_before_9_across_the_us_dst_switch() -> None:
    """An event on 2026-03-07..09 (clocks go forward on Sunday the 8th): the mornings start at 9:00 New
    York time each day (14:00Z, then 13:00Z), and each reminder is exactly its duration before."""
    mornings = [nine_am(date(2026, 3, d)) for d in (7, 8, 9)]
    assert [m.astimezone(NY).time() for m in mornings] == [time(9)] * 3
    assert [m.hour for m in mornings] == [14, 13, 13]
    for start in mornings:
        for rule in DEFAULT_SCHEDULE.rules():
            assert start - rule.due_at(start) == timedelta(minutes=rule.minutes)
    sunday = mornings[1]
    # 24 h before Sunday 9:00 EDT is Saturday 8:00 EST: an elapsed day, not "the same wall-clock time"
    assert Rule("attendees", 1440).due_at(sunday).astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 7, 8, 0)


@pytest.mark.parametrize(
    "days",
    [
        [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)],
        [date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)],
    ],
    ids=["spring-forward", "fall-back"],
)
def test_a_scan_every_minute_across_a_dst_change_opens_each_reminder_once_at_its_instant(days: list[date]) -> None:
    mornings = [nine_am(day) for day in days]
    first_seen: dict[tuple[int, str], datetime] = {}
    now = mornings[0] - timedelta(days=2)
    while now < mornings[-1] + timedelta(hours=1):
        for index, start in enumerate(mornings):
            for rule in due_rules(DEFAULT_SCHEDULE, start, now):
                first_seen.setdefault((index, rule.kind), now)
                assert now < start, "no reminder once its morning has started"
        now += timedelta(minutes=1)
    assert len(first_seen) == 3 * 4
    for (index, kind), seen in first_seen.items():
        due = DEFAULT_SCHEDULE.rule(kind).due_at(mornings[index])  # type: ignore[union-attr]
        assert due <= seen < due + timedelta(minutes=1), (index, kind, seen, due)


def test_late_registrations_get_only_the_reminders_still_ahead() -> None:
    start = nine_am(date(2031, 3, 4))
    day_before = Rule("attendees", 1440).due_at(start)
    quarter_to = Rule("attendees", 15).due_at(start)
    registered = start - timedelta(hours=2)
    assert not reminders.attendee_eligible(registered, None, day_before)
    assert reminders.attendee_eligible(registered, None, quarter_to)
    assert reminders.attendee_eligible(day_before, None, day_before), "registered at the very instant"
    assert not reminders.attendee_eligible(day_before - H24, start - H24, quarter_to), "revoked"


def test_no_reminder_once_the_morning_has_started_and_a_downtime_sends_only_the_latest() -> None:
    start = nine_am(date(2031, 3, 4))
    assert due_rules(DEFAULT_SCHEDULE, start, start) == []
    assert due_rules(DEFAULT_SCHEDULE, start, start + timedelta(minutes=1)) == []
    assert [r.kind for r in due_rules(DEFAULT_SCHEDULE, start, start - H24)] == ["attendees-24h", "speakers-24h"]
    # back after a downtime ten minutes before the start: the latest of each audience only
    assert [r.kind for r in due_rules(DEFAULT_SCHEDULE, start, start - timedelta(minutes=10))] == [
        "attendees-15m",
        "speakers-45m",
    ]


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    assert [reminders.retry_delay(n).total_seconds() / 60 for n in range(1, 8)] == [1, 2, 4, 8, 15, 15, 15]


# --- the schedule in programme files and in the database -----------------------------------------

PROGRAMME = textwrap.dedent(
    """\
    slug: demo-1
    title: {fr: "Démo"}
    timezone: America/New_York
    languages: [fr]
    reminders:
      attendees: ["24h", "1h30m"]
    days:
      - date: 2031-03-04
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
              - {name: "Ada", title: "Directrice", email: "ada@example.org"}
    """
)


def test_programme_files_carry_the_reminder_schedule_and_private_emails() -> None:
    spec = parse_programme(PROGRAMME)
    assert spec.reminders == ReminderSpec(attendees=(1440, 90), speakers=(1440, 45))  # speakers: the default
    assert spec.days[0].segments[0].speakers[0].email == "ada@example.org"
    assert parse_programme(PROGRAMME.replace('["24h", "1h30m"]', "[]")).reminders == ReminderSpec(attendees=())
    assert parse_programme(PROGRAMME.replace('reminders:\n  attendees: ["24h", "1h30m"]\n', "")).reminders is None


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ('"1h30m"', '"2 days"', 6, 'reminders.attendees: "2 days" is not a duration like "24h", "45m" or "1h30m"'),
        ('"1h30m"', '"24h"', 6, "reminders.attendees: 24h is given twice"),
        ('"1h30m"', '"400h"', 6, 'reminders.attendees: "400h" must be between 1 minute and 14 days'),
        ("  attendees:", "  guests:", 6, "unknown key 'guests' in reminders (allowed: attendees, speakers)"),
        ('"ada@example.org"', '"ada at example"', 19, "a person's email 'ada at example' is not an email address"),
    ],
)
def test_bad_reminder_settings_are_refused_with_the_place(old: str, new: str, line: int, message: str) -> None:
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(PROGRAMME.replace(old, new, 1), "demo.yaml")
    assert (caught.value.line, caught.value.message) == (line, message)
    assert str(caught.value) == f"demo.yaml:{line}: {message}"


def test_loading_and_copying_keep_the_schedule_and_the_emails(sqlite_parley: Parley) -> None:
    import asyncio

    from server.adapters.db.engine import make_async_engine, make_sessionmaker
    from server.adapters.db.models import SegmentPerson
    from server.services import programmes

    settings = sqlite_parley.settings()

    async def load_and_copy() -> None:
        engine = make_async_engine(settings)
        async with make_sessionmaker(engine)() as session, session.begin():
            event, _ = await programmes.upsert_programme(session, parse_programme(PROGRAMME))
            copy = await programmes.copy_event(session, "demo-1", "demo-2", date(2031, 6, 3))
            for event_id in (event.id, copy.id):
                schedule = await session.get(ReminderSchedule, event_id)
                assert schedule is not None and schedule.offsets == {"attendees": [1440, 90], "speakers": [1440, 45]}
            emails = (await session.scalars(select(SegmentPerson.email))).all()
            assert emails == ["ada@example.org", "ada@example.org"]
        await engine.dispose()

    asyncio.run(load_and_copy())


# --- the delivery record, with a sync session (as workers use it) ----------------------------------


def _sessions(parley: Parley) -> sessionmaker[Session]:
    return sessionmaker(make_sync_engine(parley.settings()), expire_on_commit=False)


def test_scan_creates_one_delivery_per_person_and_reminder_at_its_exact_instant(sqlite_parley: Parley) -> None:
    """Through the database, across the spring-forward weekend: rows appear at the due minute, once,
    late registrations and revoked links are left out, and scanning again changes nothing."""
    settings = sqlite_parley.settings()
    mornings = [nine_am(date(2026, 3, d)) for d in (7, 8, 9)]
    world = build_world(
        settings,
        "dst-2026",
        date(2026, 3, 7),
        [
            Attendee("Early", "early@example.org"),
            Attendee("Late", "late@example.org", registered_at=mornings[1] - timedelta(hours=2)),
            Attendee("Revoked", "revoked@example.org", revoked=True),
        ],
        speaker_emails={"Ugochi Daniels": "ugochi@example.org"},
    )
    assert world.starts == mornings
    sessions = _sessions(sqlite_parley)
    instants = sorted(
        {
            due + offset
            for start in mornings
            for rule in DEFAULT_SCHEDULE.rules()
            for due in [rule.due_at(start)]
            for offset in (-timedelta(minutes=1), timedelta(0), timedelta(seconds=30), timedelta(minutes=1))
        }
        | {mornings[1] - timedelta(hours=7) + timedelta(minutes=m) for m in range(0, 180, 7)}  # 2:00 EST -> 3:00 EDT
    )
    for now in instants:
        with sessions.begin() as session:
            reminders.scan(session, now)
    rows = deliveries(settings, "dst-2026")
    keys = [(r.recipient, r.day_id, r.kind) for r in rows]
    assert len(keys) == len(set(keys))
    by_day: dict[int, list[str]] = {}
    for row in rows:
        start = mornings[sorted({r.day_id for r in rows}).index(row.day_id)]
        assert start - row.due_at == timedelta(minutes=DEFAULT_SCHEDULE.rule(row.kind).minutes)  # type: ignore[union-attr]
        assert row.created_at >= row.due_at and row.created_at < row.due_at + timedelta(minutes=1)
        by_day.setdefault(row.day_id, []).append(f"{row.kind}:{row.email}")
    early, late = "early@example.org", "late@example.org"
    day1, day2, day3 = sorted(by_day)
    assert sorted(by_day[day1]) == sorted(
        [
            f"attendees-24h:{early}",
            f"attendees-15m:{early}",
            "speakers-24h:ugochi@example.org",
            "speakers-45m:ugochi@example.org",
        ]
    )
    assert sorted(by_day[day2]) == sorted(  # Ugochi Daniels moderates on days 1 and 2
        [
            f"attendees-24h:{early}",
            f"attendees-15m:{early}",
            f"attendees-15m:{late}",
            "speakers-24h:ugochi@example.org",
            "speakers-45m:ugochi@example.org",
        ]
    )
    assert sorted(by_day[day3]) == sorted([f"attendees-{k}:{who}" for k in ("24h", "15m") for who in (early, late)])


def test_a_claim_is_taken_once_and_a_dead_workers_claim_after_its_lease(parley: Parley) -> None:
    settings = parley.settings()
    world = build_world(settings, "claims", date(2031, 3, 3), [Attendee("A", "a@example.org")])
    sessions = _sessions(parley)
    now = world.starts[0] - H24
    with sessions.begin() as session:
        (delivery_id,) = reminders.scan(session, now)
        assert reminders.scan(session, now) == [], "handed out once per REQUEUE_AFTER"
    with sessions.begin() as session:
        token = reminders.claim(session, delivery_id, now)
    with sessions.begin() as session:
        assert token and reminders.claim(session, delivery_id, now + timedelta(minutes=9)) is None
    with sessions.begin() as session:
        assert reminders.scan(session, now + timedelta(minutes=10)) == [delivery_id], "lease over: enqueued again"
        taken_over = reminders.claim(session, delivery_id, now + timedelta(minutes=10))
    assert taken_over and taken_over != token
    with sessions.begin() as session:
        assert not store._finish(session, delivery_id, token, status="sent"), "the dead claim cannot mark"
        assert store._finish(session, delivery_id, taken_over, status="sent")
    with sessions.begin() as session:
        assert reminders.claim(session, delivery_id, now + timedelta(hours=1)) is None
        assert session.get(ReminderDelivery, delivery_id).attempts == 2  # type: ignore[union-attr]


def _deliver(
    sessions: sessionmaker[Session], delivery_id: int, now: datetime, sent: list[object], settings: object
) -> str:
    from workers import mail

    return reminders.deliver(
        sessions,
        delivery_id,
        now=now,
        links=JoinLinks(SECRET),
        base_url="https://parley.example.org",
        domain="parley.example.org",
        compose=partial(mail.compose_reminder, settings=settings),
        send=lambda message, _mail, accepted: (sent.append(message), accepted()),
    )


def test_a_reminder_whose_morning_started_or_whose_link_was_revoked_is_not_sent(sqlite_parley: Parley) -> None:
    settings = sqlite_parley.settings()
    world = build_world(
        settings, "stale", date(2031, 3, 3), [Attendee("A", "a@example.org"), Attendee("B", "b@example.org")]
    )
    sessions = _sessions(sqlite_parley)
    start = world.starts[0]
    with sessions.begin() as session:
        first, second = reminders.scan(session, start - M15)
        revoked = session.get(ReminderDelivery, second).registration_id  # type: ignore[union-attr]
        session.execute(update(Registration).where(Registration.id == revoked).values(revoked_at=start - H24))
    sent: list[object] = []
    assert _deliver(sessions, first, start, sent, settings) == "expired"
    assert _deliver(sessions, second, start - M15, sent, settings) == "cancelled"
    assert sent == []


def test_the_calendar_sequence_goes_up_when_the_mornings_times_change(sqlite_parley: Parley) -> None:
    settings = sqlite_parley.settings()
    world = build_world(settings, "moved", date(2031, 3, 3), [Attendee("A", "a@example.org", "fr", "Europe/Paris")])
    sessions = _sessions(sqlite_parley)
    start = world.starts[0]
    sent: list[email.message.Message] = []
    with sessions.begin() as session:
        (day_before,) = reminders.scan(session, start - H24)
    assert _deliver(sessions, day_before, start - H24, sent, settings) == "sent"
    with sessions.begin() as session:  # the opening runs 10 minutes longer
        session.execute(
            update(Segment)
            .where(Segment.event_id == world.event_id, Segment.key == "d1-opening")
            .values(ends_at=start + timedelta(minutes=40))
        )
        (quarter_to,) = reminders.scan(session, start - M15)
    assert _deliver(sessions, quarter_to, start - M15, sent, settings) == "sent"
    first, second = (parse_ics(m.get_payload()[1].get_payload(decode=True)) for m in sent)  # type: ignore[index, union-attr]
    assert first["UID"] == second["UID"]
    assert (first["SEQUENCE"], second["SEQUENCE"]) == ("0", "1")
    assert "9:00–9:40" in ics_text(second["DESCRIPTION"])


def test_one_person_gets_one_calendar_entry_per_morning_from_both_reminders(sqlite_parley: Parley) -> None:
    """Registered and also a moderator: the attendee reminder and the speakers' one carry the same UID
    (one entry per person and morning), and the SEQUENCE still goes up when the morning moves."""
    settings = sqlite_parley.settings()
    world = build_world(
        settings,
        "twice",
        date(2031, 3, 3),
        [Attendee("Ugochi Daniels", "Ugochi@Example.org"), Attendee("Other", "other@example.org")],
        speaker_emails={"Ugochi Daniels": " ugochi@example.org"},
    )
    sessions = _sessions(sqlite_parley)
    start = world.starts[0]
    sent: list[email.message.Message] = []
    with sessions.begin() as session:
        due = reminders.scan(session, start - H24)
    for delivery_id in due:
        assert _deliver(sessions, delivery_id, start - H24, sent, settings) == "sent"
    with sessions.begin() as session:  # the opening runs 10 minutes longer: a new version of the morning
        session.execute(
            update(Segment)
            .where(Segment.event_id == world.event_id, Segment.key == "d1-opening")
            .values(ends_at=start + timedelta(minutes=40))
        )
        (speakers_45m,) = reminders.scan(session, start - M45)
    assert _deliver(sessions, speakers_45m, start - M45, sent, settings) == "sent"
    calendars = [
        (m["Subject"], m["To"].lower(), parse_ics(m.get_payload()[1].get_payload(decode=True)))  # type: ignore[index, union-attr]
        for m in sent
    ]
    ugochi = [(subject, ics) for subject, to, ics in calendars if "ugochi" in to]
    other = [ics for _, to, ics in calendars if "other" in to]
    assert len(ugochi) == 3, "attendee 24 h, speakers 24 h, speakers 45 min"
    assert len({ics["UID"] for _, ics in ugochi}) == 1, "one calendar entry for one person and morning"
    assert [ics["SEQUENCE"] for _, ics in ugochi] == ["0", "0", "1"]
    assert other[0]["UID"] != ugochi[0][1]["UID"], "another person, another entry"


# --- what a mail says ------------------------------------------------------------------------------


def test_a_mail_is_in_the_recipients_language_with_both_zones_a_join_link_and_an_ics(sqlite_parley: Parley) -> None:
    settings = sqlite_parley.settings(public_url="https://parley.example.org")
    people = [
        Attendee("Amina Diallo", "amina@example.org", "fr", "Africa/Dakar"),
        Attendee("Lucía Pérez", "lucia@example.org", "es", "Asia/Tokyo"),
        Attendee("John Smith", "john@example.org", "en", None),
    ]
    world = build_world(settings, "mails", date(2031, 3, 3), people)
    sessions = _sessions(sqlite_parley)
    now = world.starts[0] - H24
    sent: list[email.message.Message] = []
    with sessions.begin() as session:
        ids = reminders.scan(session, now)
    assert [_deliver(sessions, i, now, sent, settings) for i in ids] == ["sent"] * 3
    mails = {
        m["To"].split("<")[1].rstrip(">"): email.message_from_bytes(m.as_bytes(), policy=policy.default)  # type: ignore[union-attr]
        for m in sent
    }
    fr, es, en = mails["amina@example.org"], mails["lucia@example.org"], mails["john@example.org"]
    assert fr["Subject"] == (
        "Rappel : Dialogue international sur la migration 2022 – première session – Première journée, "
        "lundi 3 mars 2031 à 9:00 (heure de New York)"
    )
    assert str(es["Subject"]).startswith("Recordatorio: ") and "(hora de Nueva York)" in es["Subject"]
    assert str(en["Subject"]).startswith("Reminder: International Dialogue on Migration 2022")
    fr_text = fr.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "9:00–12:00 (heure de New York) · heure de Dakar : 14:00–17:00" in fr_text
    assert "9:30–10:45  Panel 1 : Sauver des vies" in fr_text and "heure de Dakar : 14:30–15:45" in fr_text
    es_text = es.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "hora de Tokyo: 23:00–2:00" in es_text, "the recipient's zone, past midnight"
    en_text = en.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "9:00–12:00 (New York time)\n" in en_text and " · " not in en_text.split("\n")[3]
    for address, mail in mails.items():
        link = next(line for line in mail.get_body(("plain",)).get_content().splitlines() if "/join/" in line)  # type: ignore[union-attr]
        token = link.rsplit("/join/", 1)[1]
        assert JoinLinks(SECRET).read(token)[0] == world.registrations[address]
        html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert f'href="https://parley.example.org/join/{token}"' in html
        (ics,) = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
        event = parse_ics(ics.get_content().encode())
        assert event["DTSTART"] == "20310303T140000Z" and event["DTEND"] == "20310303T170000Z"
        assert event["SEQUENCE"] == "0" and event["URL"] == f"https://parley.example.org/join/{token}"
        assert mail["Message-ID"].endswith("-0@parley.example.org>")  # type: ignore[union-attr]


def test_the_same_copy_composes_to_the_same_bytes(sqlite_parley: Parley) -> None:
    """A resend after a crash is recognisable: same Message-ID, Date, boundaries and .ics."""
    from workers import mail

    settings = sqlite_parley.settings()
    world = build_world(settings, "bytes", date(2031, 3, 3), [Attendee("A", "a@example.org", "es", "America/Lima")])
    sessions = _sessions(sqlite_parley)
    now = world.starts[0] - H24
    with sessions.begin() as session:
        (delivery_id,) = reminders.scan(session, now)
        reminders.claim(session, delivery_id, now)
        row = session.get(ReminderDelivery, delivery_id)
        assert row is not None
        from server.adapters.db.models import Day, Event

        args = (row, session.get(Event, row.event_id), session.get(Day, row.day_id), None)
        one = store._mail(session, *args, links=JoinLinks(SECRET), base_url="http://x", domain="x")  # type: ignore[arg-type]
        two = store._mail(session, *args, links=JoinLinks(SECRET), base_url="http://x", domain="x")  # type: ignore[arg-type]
    assert mail.compose_reminder(one, settings).as_bytes() == mail.compose_reminder(two, settings).as_bytes()


def test_smtp_answers_are_sorted_into_temporary_and_permanent(mailbox: Mailbox, sqlite_parley: Parley) -> None:
    from email.message import EmailMessage

    from tests.fixtures.parley import free_port
    from workers.mail import send_smtp

    def message(to: str) -> EmailMessage:
        m = EmailMessage()
        m["From"], m["To"], m["Subject"], m["X-Parley-Reminder"] = "p@x.org", to, "s", "x 2031-03-03 attendees-24h"
        m.set_content("hello")
        return m

    settings = sqlite_parley.settings(smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_timeout=5)
    mailbox.temporary["busy@example.org"] = 1
    mailbox.refused["nobody@example.org"] = "550 5.1.1 No such user"
    with pytest.raises(reminders.DeliveryError) as busy:
        send_smtp(message("busy@example.org"), settings)
    assert (busy.value.permanent, busy.value.code) == (False, 451)
    with pytest.raises(reminders.DeliveryError) as nobody:
        send_smtp(message("nobody@example.org"), settings)
    assert (nobody.value.permanent, nobody.value.code) == (True, 550)
    with pytest.raises(reminders.DeliveryError) as refused:
        send_smtp(message("a@example.org"), settings.model_copy(update={"smtp_port": free_port()}))
    assert refused.value.permanent is False and "refused" in str(refused.value).lower()
    send_smtp(message("busy@example.org"), settings)
    assert [r.to for r in mailbox.received] == ["busy@example.org"]


def test_the_schedule_can_be_edited_and_old_counts_stay_visible() -> None:
    edited = Schedule.from_offsets({"attendees": [60], "speakers": []})
    assert [r.kind for r in edited.rules()] == ["attendees-1h"]
    assert edited.labels() == {"attendees": ["1h"], "speakers": []}
    assert reminders.rule_of("speakers-1h30m") == Rule("speakers", 90)
