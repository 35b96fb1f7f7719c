"""`parley rehearse`: the scaled clock every process shares, the plan, the checks (reports, polls,
the whole event, XLSX), and one small rehearsal end to end on the embedded default (60 attendees,
one morning)."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.settings import Settings
from server.adapters.clock import ScaledClock, clock_for
from server.entrypoints.ws.runtime import Timing
from server.rehearsal import checks, formats, polls
from server.rehearsal.actors import UNANSWERED, Interval, Truth
from server.rehearsal.plan import Burst, MorningPlan, SegmentPlan, plan_people, plan_timeline
from tests.fixtures.parley import run_parley
from workers.schedule import BEAT_SCHEDULE, beat_schedule

T0 = datetime(2031, 3, 3, 14, 0, tzinfo=UTC)  # 9:00 in New York


def test_a_scaled_clock_runs_at_its_speed_and_jumps_forward_between_pieces() -> None:
    anchor = datetime(2030, 1, 1, tzinfo=UTC)
    night = T0 + timedelta(hours=20)
    clock = ScaledClock(anchor, [(0, T0), (10, night, 30.0)], 120)
    assert clock.at(anchor - timedelta(seconds=5)) == T0  # stands still before the anchor
    assert clock.at(anchor + timedelta(seconds=5)) == T0 + timedelta(minutes=10)
    assert clock.at(anchor + timedelta(seconds=10)) == night
    assert clock.at(anchor + timedelta(seconds=12)) == night + timedelta(minutes=1)
    assert clock.real_at(T0 + timedelta(minutes=10)) == anchor + timedelta(seconds=5)
    assert clock.real_at(night + timedelta(minutes=1)) == anchor + timedelta(seconds=12)
    assert clock.real_at(T0 + timedelta(hours=5)) == anchor + timedelta(seconds=10)  # jumped over: the jump
    assert clock.speed == 120
    with pytest.raises(ValueError, match="set the clock back"):
        ScaledClock(anchor, [(0, T0), (10, T0 + timedelta(minutes=5))], 120)


def test_every_process_built_from_the_same_settings_reads_the_same_virtual_time() -> None:
    env = {
        "clock_anchor": "2030-01-01T00:00:00+00:00",
        "clock_timeline": f"0={T0.isoformat()},10={(T0 + timedelta(days=1)).isoformat()}@60",
        "clock_speed": 120.0,
    }
    first, second = clock_for(Settings(**env)), clock_for(Settings(**env))  # type: ignore[arg-type]
    assert isinstance(first, ScaledClock) and isinstance(second, ScaledClock)
    instant = datetime(2030, 1, 1, 0, 0, 15, tzinfo=UTC)
    assert first.at(instant) == second.at(instant) == T0 + timedelta(days=1, minutes=5)
    assert Settings(**env).virtual_speed == 120  # type: ignore[arg-type]
    assert Settings().virtual_speed == 1


@pytest.mark.parametrize(
    ("anchor", "timeline", "message"),
    [
        ("2030-01-01T00:00:00+00:00", "", "go together"),
        ("2030-01-01T00:00:00", "0=2031-03-03T14:00:00Z", "no UTC offset"),
        ("2030-01-01T00:00:00Z", "5=2031-03-03T14:00:00Z", "first piece starts at real offset 0"),
        ("2030-01-01T00:00:00Z", "0=2031-03-03T14:00:00Z,x=2031-03-04T14:00:00Z", "not one"),
        ("2030-01-01T00:00:00Z", "0=2031-03-03T14:00:00Z@0.5", "at least 1"),
    ],
)
def test_a_bad_clock_setting_is_refused_with_its_name(anchor: str, timeline: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(clock_anchor=anchor, clock_timeline=timeline)


def test_spans_compared_with_a_scaled_clock_scale_with_it_and_beat_scans_each_virtual_minute() -> None:
    real = Timing(heartbeat_s=2, idle_timeout_s=8)
    fast = Timing(heartbeat_s=2, idle_timeout_s=8, speed=120)
    assert fast.idle_after_s == 8 * 120 and fast.stale_after == real.stale_after * 120
    assert fast.sweep_s == real.sweep_s  # the jobs themselves keep real intervals
    assert beat_schedule(1) is BEAT_SCHEDULE
    fast_beat = beat_schedule(120)
    assert fast_beat["reminders-scan"]["schedule"] == timedelta(seconds=1)  # each 2 virtual minutes
    assert fast_beat["reports-scan-due"]["schedule"] == timedelta(seconds=5)
    assert beat_schedule(30)["reminders-scan"]["schedule"] == timedelta(seconds=2)


def _morning(day: int = 0) -> MorningPlan:
    start = T0 + timedelta(days=day)
    return MorningPlan(
        start.date().isoformat(),
        start,
        start + timedelta(hours=3),
        (
            SegmentPlan(1 + 2 * day, f"d{day}-a", start, start + timedelta(minutes=90), (1, 2)),
            SegmentPlan(2 + 2 * day, f"d{day}-b", start + timedelta(minutes=90), start + timedelta(hours=3), (3,)),
        ),
    )


def test_the_timeline_plays_every_reminder_and_slows_down_where_a_burst_goes_out() -> None:
    mornings = [_morning(0), _morning(1)]
    bursts = [Burst(m.starts_at - timedelta(minutes=minutes), 300) for m in mornings for minutes in (1440, 15)]
    timeline = plan_timeline(mornings, speed=120, first_reminder=timedelta(hours=24), bursts=bursts, mail_rate=5)
    assert all(timeline.played(b.due) for b in bursts)
    assert timeline.played(mornings[0].starts_at - timedelta(minutes=45))  # the moderators' reminder
    assert timeline.starts_at == T0 - timedelta(hours=24, minutes=10)
    speeds = {pace for window in timeline.windows for _, _, pace in timeline.spans(window)}
    assert speeds == {120, 10}  # 300 mails at 5 a second in 10 virtual minutes
    pieces = timeline.pieces()
    clock = ScaledClock(T0, pieces, 120)  # the pieces make a clock that never goes back
    assert clock.real_at(mornings[1].starts_at) > clock.real_at(mornings[0].ends_at)
    later = plan_timeline(mornings, speed=120, first_reminder=timedelta(hours=24), start=T0 - timedelta(hours=20))
    assert later.starts_at == T0 - timedelta(hours=20) and not later.played(T0 - timedelta(hours=24))


def test_before_a_morning_the_timeline_jumps_from_the_moderators_reminder_to_the_first_joins() -> None:
    mornings = [_morning(0), _morning(1)]
    bursts = [
        Burst(m.starts_at - timedelta(minutes=minutes), count)
        for m in mornings
        for minutes, count in ((1440, 300), (45, 1), (15, 300))
    ]
    joins = {mornings[0].day: T0 - timedelta(minutes=6), mornings[1].day: T0 + timedelta(days=1, minutes=-20)}
    timeline = plan_timeline(
        mornings, speed=120, first_reminder=timedelta(hours=24), bursts=bursts, mail_rate=50, first_joins=joins
    )
    assert all(timeline.played(b.due) for b in bursts)  # every reminder is still checked in time
    first_morning = [w for w in timeline.windows if w.starts_at.date() == T0.date()]
    assert [w.morning is not None for w in first_morning] == [False, True]
    lead, main = first_morning
    assert lead.starts_at == T0 - timedelta(minutes=50) and lead.ends_at < T0 - timedelta(minutes=35)
    assert main.starts_at == T0 - timedelta(minutes=16)  # just before the 15-minute burst
    assert not timeline.played(T0 - timedelta(minutes=25))  # nothing is due then: jumped over
    second = next(w for w in timeline.windows if w.morning is mornings[1])
    assert second.starts_at == T0 + timedelta(days=1, minutes=-22)  # an early join opens it earlier
    no_joins = plan_timeline(mornings, speed=120, first_reminder=timedelta(hours=24), bursts=bursts, mail_rate=50)
    assert next(w for w in no_joins.windows if w.morning is mornings[1]).starts_at == T0 + timedelta(
        days=1, minutes=-16
    )
    ScaledClock(T0, timeline.pieces(), 120)  # still a clock that never goes back


def test_the_same_seed_plans_the_same_people_with_a_realistic_mix() -> None:
    mornings = [_morning()]
    first = plan_people(random.Random(7), 400, mornings, "example.invalid")
    again = plan_people(random.Random(7), 400, mornings, "example.invalid")
    assert [(p.name, p.country, p.mornings[mornings[0].day].visits) for p in first] == [
        (p.name, p.country, p.mornings[mornings[0].day].visits) for p in again
    ]
    behaviours = [p.mornings[mornings[0].day] for p in first]
    assert {p.language for p in first} == {"fr", "en", "es"}
    assert len({p.category for p in first}) >= 6 and len({p.timezone for p in first}) > 20
    assert 0 < sum(1 for b in behaviours if not b.visits) < 80  # some no-shows
    assert any(v.drops for b in behaviours for v in b.visits)  # some drop and come back
    assert any(v.tab == 1 for b in behaviours for v in b.visits)  # some keep two tabs
    on_time = sum(1 for b in behaviours if b.visits and abs(b.visits[0].opens_at - T0) < timedelta(minutes=12))
    assert on_time > len(first) / 2  # most join around 9:00


def _tables(minutes: str, share_a: str, votes: str) -> dict[str, list[dict[str, str]]]:
    return {
        "attendees": [
            {"registration_id": "1", "minutes_present": minutes, "share_d0-a_pct": share_a, "share_d0-b_pct": "0.0"}
        ],
        "segments": [
            {"segment": "d0-a", "unique_attendees": "1", "peak_concurrent": "1"},
            {"segment": "d0-b", "unique_attendees": "0", "peak_concurrent": "0"},
        ],
        "no_shows": [{"registration_id": "2"}],
        "questions": [{"question_id": "5", "votes": votes, "email": "one@example.invalid"}],
        "speeches": [{"source": "floor", "email": "one@example.invalid"}],
    }


def _truth(morning: MorningPlan) -> tuple[Truth, dict[int, str]]:
    """Attendee 1 asked question 5, voted for it with attendee 2, and spoke from the floor."""
    truth = Truth()
    second = timedelta(seconds=1)
    # attendee 1: present 9:00:10 to 10:00:10 (the brackets one second wide); attendee 2 never came
    truth.intervals.append(
        Interval(
            1,
            T0 + 9 * second,
            T0 + 10 * second,
            T0 + timedelta(hours=1, seconds=10),
            T0 + timedelta(hours=1, seconds=11),
            False,
        )
    )
    a, b = morning.segments
    truth.segments = {a.id: (a.starts_at, a.ends_at), b.id: (b.starts_at, b.ends_at)}
    truth.questions = {5: (1, a.id)}
    truth.votes = {5: {1: (T0 + 20 * second, T0 + 21 * second), 2: (T0 + 30 * second, T0 + 31 * second)}}
    truth.floor_speakers = {morning.day: [1]}
    return truth, {1: "one@example.invalid", 2: "two@example.invalid"}


def test_the_report_check_holds_on_the_truth_and_fails_on_a_figure_that_is_not() -> None:
    morning = _morning()
    truth, registrations = _truth(morning)
    held = checks.check_report(morning, _tables("60.0", "66.7", "2"), truth, registrations)
    assert held.passed, held.failures
    wrong_minutes = checks.check_report(morning, _tables("61.0", "66.7", "2"), truth, registrations)
    assert not wrong_minutes.passed and "attendee 1" in wrong_minutes.failures[0]
    wrong_votes = checks.check_report(morning, _tables("60.0", "66.7", "3"), truth, registrations)
    assert not wrong_votes.passed and "votes" in wrong_votes.failures[0]


def test_a_vote_or_a_question_whose_answer_never_came_may_be_in_the_report_or_not() -> None:
    """A tab that left (or lost its connection) with a command in flight does not know whether the
    server applied it: the check takes the report either way, and still refuses what nobody sent."""
    morning = _morning()
    truth, registrations = _truth(morning)
    truth.votes[5][3] = (T0 + timedelta(seconds=40), UNANSWERED)
    truth.unsure_questions["Where will they go?"] = (1, morning.segments[0].id)
    for votes in ("2", "3"):
        assert checks.check_report(morning, _tables("60.0", "66.7", votes), truth, registrations).passed
    assert not checks.check_report(morning, _tables("60.0", "66.7", "4"), truth, registrations).passed
    for text, holds in (("Where will they go?", True), ("Nobody asked this", False)):
        tables = _tables("60.0", "66.7", "2")
        tables["questions"].append({"question_id": "6", "votes": "0", "email": "one@example.invalid", "text": text})
        found = checks.check_report(morning, tables, truth, registrations)
        assert found.passed is holds, found.failures
        assert holds or "questions" in found.failures[0]


def test_the_reminder_check_counts_each_delivery_once_in_time_and_in_its_language() -> None:
    from email.message import Message

    from server.rehearsal.smtp_sink import Received

    def mail(at: datetime, language: str) -> Received:
        message = Message()
        message["X-Parley-Reminder"] = "ev 2031-03-03 attendees-15m"
        message["Content-Language"] = language
        return Received(at, ["one@example.invalid"], message)

    due = T0 - timedelta(minutes=15)
    expected = [checks.ExpectedReminder("2031-03-03", "attendees-15m", "one@example.invalid", "fr", due, T0)]
    confirmation = Received(due, ["one@example.invalid"], Message())  # not a reminder: not counted
    assert checks.check_reminders(expected, [mail(due + timedelta(minutes=2), "fr"), confirmation], "ev").passed
    twice = checks.check_reminders(expected, [mail(due, "fr"), mail(due + timedelta(minutes=1), "fr")], "ev")
    assert not twice.passed and "2 times" in twice.failures[0]
    assert not checks.check_reminders(expected, [mail(due, "en")], "ev").passed
    assert not checks.check_reminders(expected, [mail(T0 + timedelta(seconds=1), "fr")], "ev").passed
    assert not checks.check_reminders(expected, [], "ev").passed


def test_a_small_rehearsal_runs_green_end_to_end_on_the_embedded_default(tmp_path: Path) -> None:
    """60 simulated attendees and a moderator through one morning on `parley serve` with its own
    worker and beat, every process on the same virtual clock; the checks are the command's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env["PARLEY_DATA_DIR"] = str(tmp_path / "data")
    out = tmp_path / "out"
    done = run_parley(
        "rehearse", "--attendees", "60", "--mornings", "1", "--speed", "600", "--mail-rate", "4",
        "--startup", "10", "--out", str(out),
        env=env, timeout=600,
    )  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert done.returncode == 0, done.stderr[-4000:]
    assert summary["passed"] and "every check held" in done.stderr
    names = {check["name"] for check in summary["checks"]}
    day = next(name.removeprefix("report ") for name in names if name.startswith("report 20"))
    assert names == {"clients", "reminders", f"report {day}", "report event", f"xlsx {day}", "xlsx event"}
    morning = summary["figures"]["report_figures"][day]
    assert morning["polls"] == 2 and morning["poll_ballots"] > 30  # one poll per panel, most answer
    assert summary["figures"]["report_figures"]["event"]["unique_attendees"] == morning["attendees_present"]
    figures = summary["figures"]
    assert figures["reminders_delivered"] == figures["reminders_due"] > 120  # 24 h and 15 min before, to 60
    assert figures["errors"] == 0 and figures["events"] > 20 and figures["fanout_samples"] > 0
    assert 0 < figures["server_round_trips"] <= figures["connections"]  # closes and drops waited for one
    assert "/moderate/" in done.stderr and "/organise/" in done.stderr  # what a person can watch live
    assert "<svg" in (out / "summary.html").read_text()


def _poll_truth() -> polls.PollTruth:
    truth = polls.PollTruth()
    truth.polls[1] = polls.PollPlan(
        1, 1, "Anonymous?", True, "single", (1, 2), opened=True, closed=True, published=True
    )
    truth.polls[2] = polls.PollPlan(2, 1, "Named?", False, "multiple", (1, 2), opened=True, closed=True, published=True)
    truth.ballots[1] = {10: (1,), 11: (1,), 12: (2,), 13: (2,), 14: (1,), 20: (2,)}
    truth.ballots[2] = {10: (1, 2), 20: (2,)}
    return truth


def _poll_tables(truth: polls.PollTruth, categories: dict[int, str]) -> dict[str, list[dict[str, str]]]:
    """The poll tables as the report writes them for ``truth`` (built here from the docs' rule)."""
    tables: dict[str, list[dict[str, str]]] = {"polls": [], "poll_categories": [], "poll_ballots": []}
    for poll_id, plan in truth.polls.items():
        ballots = truth.ballots[poll_id]
        for option in plan.option_ids:
            votes = sum(1 for b in ballots.values() if option in b)
            tables["polls"].append(
                {
                    "poll_id": str(poll_id), "option_id": str(option), "ballots": str(len(ballots)),
                    "votes": str(votes), "choice": plan.choice, "results": "published",
                    "ballot": "anonymous" if plan.anonymous else "named",
                }
            )  # fmt: skip
        groups: dict[str, list[polls.Ballot]] = {}
        for who, ballot in ballots.items():
            groups.setdefault(categories[who], []).append(ballot)
        for label, group in polls.category_groups(groups, anonymous=plan.anonymous).items():
            for option in plan.option_ids:
                votes = sum(1 for b in group if option in b)
                tables["poll_categories"].append(
                    {"poll_id": str(poll_id), "category": label, "option_id": str(option),
                     "ballots": str(len(group)), "votes": str(votes)}
                )  # fmt: skip
        if not plan.anonymous:
            tables["poll_ballots"] += [
                {"poll_id": str(poll_id), "registration_id": str(who), "option_ids": " ".join(map(str, ballot))}
                for who, ballot in ballots.items()
            ]
    return tables


def test_an_anonymous_polls_small_categories_are_pooled_until_nobody_can_be_singled_out() -> None:
    ballots: dict[str, list[polls.Ballot]] = {"member_state": [(1,)] * 4, "media": [(2,)], "academia": [(1,)] * 3}
    assert polls.category_groups(ballots, anonymous=True) == {
        "member_state": [(1,)] * 4,
        "(other categories: academia, media)": [(2,), (1,), (1,), (1,)],  # one media ballot alone would show
    }
    assert set(polls.category_groups(ballots, anonymous=False)) == {"member_state", "media", "academia"}
    assert list(polls.category_groups({"media": [(1,)], "un_system": [(2,)]}, anonymous=True)) == [
        "(all categories: media, un_system)"
    ]


def test_the_poll_check_holds_on_the_truth_and_fails_on_a_wrong_count_or_a_listed_anonymous_ballot() -> None:
    truth = _poll_truth()
    categories = {10: "member_state", 11: "member_state", 12: "member_state", 13: "media", 14: "academia", 20: "media"}
    morning = _morning()

    def run(tables: dict[str, list[dict[str, str]]]) -> checks.Check:
        check = checks.Check("report")
        polls.check_polls(check, morning, tables, truth, categories)
        return check

    held = run(_poll_tables(truth, categories))
    assert held.passed, held.failures
    wrong = _poll_tables(truth, categories)
    wrong["polls"][0]["votes"] = "4"
    assert not run(wrong).passed
    leaked = _poll_tables(truth, categories)
    leaked["poll_ballots"].append({"poll_id": "1", "registration_id": "10", "option_ids": "1"})
    assert "anonymous" in run(leaked).failures[0]
    unpooled = _poll_tables(truth, categories)
    unpooled["poll_categories"] = [r for r in unpooled["poll_categories"] if r["poll_id"] == "2"] + [
        {"poll_id": "1", "category": c, "option_id": "1", "ballots": "1", "votes": "1"} for c in ("media", "academia")
    ]
    assert "by category" in run(unpooled).failures[0]


def test_the_xlsx_check_compares_every_cell_with_the_csv() -> None:
    def local(hour: int, minute: int, second: int = 0) -> datetime:  # a date cell as openpyxl reads it: naive
        return datetime(2031, 3, 3, hour, minute, second, tzinfo=UTC).replace(tzinfo=None)

    tables = {
        "summary": [{"key": "joined", "label": "Joined", "value": "2"}],
        "attendees": [
            {"registration_id": "1", "first_join_local": "2031-03-03T08:58:00-05:00", "minutes_present": "60.0"},
            {"registration_id": "2", "first_join_local": "2031-03-03T09:01:30-05:00", "minutes_present": "12.5"},
        ],
    }
    workbook = {
        "summary": [("IDM",), ("2031-03-03",), (None,), ("Joined", 2)],
        "attendees": [
            ("Registration", "First join (local)", "Minutes present"),
            (1, local(8, 58), 60.0),
            (2, local(9, 1, 30), 12.5),
        ],
    }
    assert formats.check_xlsx("2031-03-03", tables, workbook).passed
    workbook["attendees"][2] = (2, local(9, 1, 30), 12.4)
    failed = formats.check_xlsx("2031-03-03", tables, workbook)
    assert not failed.passed and "row 3 column 3" in failed.failures[0]


@pytest.mark.parametrize("seed", range(40))
def test_any_timeline_makes_a_clock_that_never_goes_back_and_plays_every_reminder(seed: int) -> None:
    """Odd paces (any mail rate, any burst size) and joins at any microsecond: the pieces, rounded
    to the millisecond, still make a clock that never goes back."""
    rng = random.Random(seed)
    mornings = [_morning(day) for day in range(3)]
    bursts = [
        Burst(m.starts_at - timedelta(minutes=minutes, seconds=rng.random()), rng.randint(1, 6000))
        for m in mornings
        for minutes in (1440, 45, 15)
    ]
    joins = {m.day: m.starts_at - timedelta(minutes=rng.uniform(0, 30)) for m in mornings}
    timeline = plan_timeline(
        mornings,
        speed=rng.choice([60, 120, 600]),
        first_reminder=timedelta(hours=24),
        bursts=bursts,
        mail_rate=rng.uniform(1, 80),
        first_joins=joins,
    )
    ScaledClock(T0, timeline.pieces(), timeline.speed)
    assert all(timeline.played(b.due) for b in bursts)
