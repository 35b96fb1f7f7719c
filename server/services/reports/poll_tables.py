"""The polls of a report: each poll's options and counts, the counts by category of attendee, and
the ballots of named polls.

Counts come from the ballots table (one current ballot per attendee and poll), the same truth the
live tallies are counted from. An anonymous poll's ballots are never listed, and its counts by
category never single anyone out: categories with fewer than ``MIN_GROUP`` ballots are pooled into
one "other categories" row, and when that pool is itself smaller than ``MIN_GROUP``, the smallest
remaining category joins it (otherwise the poll's totals minus the other rows would give it away).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Final

from server.services.reports.attendance_tables import percent
from server.services.reports.model import Column, PollFacts, ReportInput, Table
from server.services.reports.windows import MorningWindow

MIN_GROUP: Final = 3
"""The fewest ballots an anonymous poll's category row may count."""
NO_CATEGORY: Final = "(none)"


def _in_scope(data: ReportInput, windows: list[MorningWindow]) -> list[tuple[str, PollFacts]]:
    keys = {s.id: s.key for w in windows for s, _ in w.segments}
    return [(keys[p.segment_id], p) for p in sorted(data.polls, key=lambda p: p.id) if p.segment_id in keys]


def _counts(ballots: Sequence[tuple[int, tuple[int, ...]]]) -> Counter[int]:
    return Counter(option_id for _, option_ids in ballots for option_id in option_ids)


def _share(votes: int, ballots: int) -> float | None:
    return percent(votes / ballots) if ballots else None


def poll_table(data: ReportInput, windows: list[MorningWindow]) -> Table:
    columns = [
        Column("poll_id", "Poll", "int"),
        Column("segment", "Segment"),
        Column("opened_local", "Opened (local)", "local"),
        Column("closed_local", "Closed (local)", "local"),
        Column("question", "Question"),
        Column("choice", "Choice"),
        Column("ballot", "Ballot"),
        Column("results", "Results"),
        Column("ballots", "Ballots", "int"),
        Column("option_id", "Option", "int"),
        Column("option", "Option text"),
        Column("votes", "Votes", "int"),
        Column("share_pct", "Share of ballots (%)", "percent"),
    ]
    rows = []
    for segment, poll in _in_scope(data, windows):
        counts, total = _counts(poll.ballots), len(poll.ballots)
        for option_id, text in poll.options:
            rows.append(
                (
                    poll.id,
                    segment,
                    poll.opened_at,
                    poll.closed_at,
                    poll.question,
                    poll.choice,
                    "anonymous" if poll.anonymous else "named",
                    "published" if poll.published else "staff only",
                    total,
                    option_id,
                    text,
                    counts[option_id],
                    _share(counts[option_id], total),
                )
            )
    return Table("polls", "Polls: options and votes", columns, rows)


def category_groups(
    by_category: dict[str, list[tuple[int, tuple[int, ...]]]], *, anonymous: bool
) -> list[tuple[str, list[tuple[int, tuple[int, ...]]]]]:
    """(label, ballots) per category, largest first; for an anonymous poll, small ones pooled."""
    groups = sorted(by_category.items(), key=lambda item: (-len(item[1]), item[0]))
    if not anonymous:
        return groups
    large = [g for g in groups if len(g[1]) >= MIN_GROUP]
    pooled = [g for g in groups if len(g[1]) < MIN_GROUP]
    if not pooled:
        return large
    while sum(len(g[1]) for g in pooled) < MIN_GROUP and large:
        pooled.append(large.pop())  # the smallest large group: the pool's total cannot be told apart
    names = ", ".join(sorted(name for name, _ in pooled))
    label = f"(other categories: {names})" if large else f"(all categories: {names})"
    return [*large, (label, [b for _, ballots in pooled for b in ballots])]


def poll_category_table(data: ReportInput, windows: list[MorningWindow]) -> Table:
    columns = [
        Column("poll_id", "Poll", "int"),
        Column("segment", "Segment"),
        Column("question", "Question"),
        Column("category", "Category"),
        Column("ballots", "Ballots in the category", "int"),
        Column("option_id", "Option", "int"),
        Column("option", "Option text"),
        Column("votes", "Votes", "int"),
        Column("share_pct", "Share of the category's ballots (%)", "percent"),
    ]
    rows = []
    for segment, poll in _in_scope(data, windows):
        by_category: defaultdict[str, list[tuple[int, tuple[int, ...]]]] = defaultdict(list)
        for ballot in poll.ballots:
            attendee = data.attendees.get(ballot[0])
            by_category[(attendee.category if attendee else "") or NO_CATEGORY].append(ballot)
        for label, ballots in category_groups(by_category, anonymous=poll.anonymous):
            counts = _counts(ballots)
            for option_id, text in poll.options:
                rows.append(
                    (
                        poll.id,
                        segment,
                        poll.question,
                        label,
                        len(ballots),
                        option_id,
                        text,
                        counts[option_id],
                        _share(counts[option_id], len(ballots)),
                    )
                )
    return Table("poll_categories", "Polls: votes by category of attendee", columns, rows)


def named_ballot_table(data: ReportInput, windows: list[MorningWindow]) -> Table:
    """Who chose what, for named polls only."""
    columns = [
        Column("poll_id", "Poll", "int"),
        Column("segment", "Segment"),
        Column("question", "Question"),
        Column("registration_id", "Registration", "int"),
        Column("name", "Name"),
        Column("organisation", "Organisation"),
        Column("email", "Email"),
        Column("category", "Category"),
        Column("country", "Country"),
        Column("option_ids", "Options chosen"),
        Column("choices", "Choices"),
    ]
    rows = []
    for segment, poll in _in_scope(data, windows):
        if poll.anonymous:
            continue
        texts = dict(poll.options)
        for registration_id, option_ids in poll.ballots:
            who = data.attendees.get(registration_id)
            rows.append(
                (
                    poll.id,
                    segment,
                    poll.question,
                    registration_id,
                    who.name if who else "",
                    who.organisation if who else "",
                    who.email if who else "",
                    who.category if who else "",
                    who.country if who else "",
                    " ".join(str(o) for o in option_ids),
                    " | ".join(texts.get(o, str(o)) for o in option_ids),
                )
            )
    return Table("poll_ballots", "Polls: ballots of named polls", columns, rows)
