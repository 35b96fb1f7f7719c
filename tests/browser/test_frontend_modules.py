"""The browser's own copy of the rules, run in Node.js against the Python core.

- ``frontend/js/store.js`` folds every command's events (the core's own catalogue of cases,
  ``tests/core/cases.py``) into exactly the views the core computes: the client state a browser
  builds from events is the state the server has.
- ``frontend/js/forecast.js`` gives the same drift, end of day and speaker time as
  ``server/core/forecast.py``.

The interface strings and the language rule are checked in ``tests/test_i18n.py``.

Node.js is on every machine of this project's kind; without it these skip (or fail under
``PARLEY_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from server.core import decide
from server.core.decide import record_poll_tallies, record_presence_counts, record_vote_counts
from server.core.forecast import forecast
from server.core.polls import tally_of
from server.protocol import PROTOCOL_VERSION, PollTally
from tests.core.cases import CASES, busy, panel_paused, poll_closed, speech_paused, with_polls
from tests.core.helpers import MODERATOR, at, command, fresh
from tests.fixtures.node import node

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "frontend" / "js"


FOLD = f"""
import {{ applyPublic, applyStaff }} from {json.dumps((JS / "store.js").as_uri())};
let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map((c) => {{
  let pub = c.public, staff = c.staff;
  try {{
    for (const [channel, event] of c.events) {{
      if (channel === "public") pub = applyPublic(pub, event); else staff = applyStaff(staff, event);
    }}
    return {{ public: pub, staff }};
  }} catch (error) {{
    return {{ error: `${{error.name}}: ${{error.message}}` }};
  }}
}});
process.stdout.write(JSON.stringify(out));
"""


def fold_case(old: Any, new: Any, emitted: list) -> dict[str, Any]:
    return {
        "public": old.public.model_dump(mode="json"),
        "staff": old.staff.model_dump(mode="json"),
        "events": [[channel, event.model_dump(mode="json")] for channel, event in emitted],
        "expected": {"public": new.public.model_dump(mode="json"), "staff": new.staff.model_dump(mode="json")},
    }


def test_store_js_folds_every_commands_events_into_the_cores_views() -> None:
    cases, names = [], []
    for case in CASES:
        if case.actor.role == "attendee":
            continue  # ballots: attendees only, and silent
        old = case.state(case.actor)
        new, emitted = decide(old, command(case.kind, **case.fields), actor=case.actor, now=at(60))
        cases.append(fold_case(old, new, emitted))
        names.append(case.id)
    published, _ = decide(with_polls(), command("poll.publish", poll_id=1), actor=MODERATOR, now=at(60))
    new, emitted = record_poll_tallies(published, {1: PollTally(ballots=3, counts={1: 2, 2: 1})}, now=at(61))
    cases.append(fold_case(published, new, emitted))
    names.append("poll tallies")
    named, _ = decide(poll_closed(), command("poll.open", poll_id=2), actor=MODERATOR, now=at(60))
    poll = named.public.polls[-1]
    for n, ballots in enumerate([{"attendee:9": (1,)}, {"attendee:9": (3,), "attendee:10": (1, 2)}]):
        tally = tally_of(poll, ballots, {"attendee:9": ("Nine", None), "attendee:10": ("Ten", "Org")})
        new, emitted = record_poll_tallies(named, {2: tally}, now=at(61))
        cases.append(fold_case(named, new, emitted))
        names.append(f"named tally {n}")
        named = new
    state = busy()
    new, emitted = record_vote_counts(state, {2: 5, 3: 1}, now=at(61))
    cases.append(fold_case(state, new, emitted))
    names.append("votes")
    new, emitted = record_presence_counts(state, online=7, peak_today=9, by_category={"media": 2}, now=at(61))
    cases.append(fold_case(state, new, emitted))
    names.append("presence")
    # a whole morning in one go: every event from an empty state
    events: list = []
    state = fresh()
    start = state
    for kind, fields in [
        ("segment.open", {"segment_id": 2}),
        ("notice.set", {"text": "Welcome"}),
        ("floor.request", {"point_of_order": True}),
        ("floor.grant", {"entry_id": 1}),
        ("speech.pause", {}),
        ("speech.resume", {}),
        ("question.ask", {"text": "Why?"}),
        ("question.approve", {"question_id": 1, "text": "Why so?"}),
        ("question.highlight", {"question_id": 1}),
        ("question.answer", {"question_id": 1}),
        ("segment.end", {"segment_id": 2}),
    ]:
        state, emitted = decide(state, command(kind, **fields), actor=MODERATOR, now=at(40 + len(events)))
        events.extend(emitted)
    cases.append(fold_case(start, state, events))
    names.append("morning")

    results = node(FOLD, cases)
    assert len(results) == len(cases)
    for name, case, result in zip(names, cases, results, strict=True):
        assert "error" not in result, (name, result)
        assert result == case["expected"], name


def test_store_js_refuses_an_event_that_does_not_fit_like_the_core() -> None:
    state = busy()
    bad = [
        ("public", {"type": "speech.paused", "speech_id": 999, "at": "2022-02-28T15:00:00Z"}),
        ("public", {"type": "queue.entry_removed", "entry_id": 999, "reason": "removed", "at": "2022-02-28T15:00:00Z"}),
        (
            "staff",
            {"type": "question.edited", "question_id": 999, "text": "x", "by": "staff:1", "at": "2022-02-28T15:00:00Z"},
        ),
        ("public", {"type": "question.votes_updated", "counts": {"999": 1}}),
    ]
    cases = [
        {
            "public": state.public.model_dump(mode="json"),
            "staff": state.staff.model_dump(mode="json"),
            "events": [event],
        }
        for event in bad
    ]
    for result in node(FOLD, cases):
        assert result.get("error", "").startswith("InconsistentEvent"), result


FORECAST = f"""
import {{ forecast }} from {json.dumps((JS / "forecast.js").as_uri())};
let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map((c) => forecast(c.public, Date.parse(c.now)));
process.stdout.write(JSON.stringify(out));
"""


def test_forecast_js_computes_what_the_core_computes() -> None:
    cases, expected = [], []
    for state_of in (fresh, busy, panel_paused, speech_paused, lambda: CASES[3].state(MODERATOR)):
        state = state_of()
        for minute in (-30, 10, 45, 60, 104, 200):
            now = at(minute)
            cases.append({"public": state.public.model_dump(mode="json"), "now": now.isoformat()})
            expected.append(forecast(state, now).model_dump(mode="json"))
    results = node(FORECAST, cases)
    for got, want in zip(results, expected, strict=True):
        assert got["day"] == want["day"]
        for key in ("drift_s", "speech_elapsed_s", "over_time_s"):
            if want[key] is None:
                assert got[key] is None, (key, got, want)
            else:
                assert got[key] == pytest.approx(want[key], abs=1e-6), (key, got, want)
        if want["forecast_end_of_day"] is None:
            assert got["forecast_end_of_day"] is None
        else:
            from datetime import datetime

            assert datetime.fromisoformat(got["forecast_end_of_day"].replace("Z", "+00:00")) == datetime.fromisoformat(
                want["forecast_end_of_day"].replace("Z", "+00:00")
            )


VERSION_CHECK = f"""
import {{ LiveConnection }} from {json.dumps((JS / "connection.js").as_uri())};
import {{ PROTOCOL_VERSION }} from {json.dumps((JS / "protocol.js").as_uri())};
globalThis.window = {{ addEventListener() {{}} }};
const out = {{ client: PROTOCOL_VERSION }};
for (const version of [PROTOCOL_VERSION, PROTOCOL_VERSION - 1]) {{
  const seen = {{ loaded: false, statuses: [], closed: null }};
  const store = {{ ready: false, positions: null, load() {{ seen.loaded = true; }} }};
  const onStatus = (status, detail) => seen.statuses.push([status, detail.reason ?? null]);
  const conn = new LiveConnection({{ slug: "s", store, onStatus }});
  conn.ws = {{ readyState: 1, close(code) {{ seen.closed = code; }}, send() {{}} }};
  conn.receive({{ type: "snapshot", protocol_version: version }});
  out[version] = seen;
}}
process.stdout.write(JSON.stringify(out));
"""


def test_connection_js_stops_on_a_snapshot_of_another_protocol_version() -> None:
    """A page built for one protocol version never loads a state of another: it stops and asks for
    a reload (the server was updated under it) instead of misreading who is who."""
    out = node(VERSION_CHECK, None)
    assert out["client"] == PROTOCOL_VERSION
    current, older = out[str(PROTOCOL_VERSION)], out[str(PROTOCOL_VERSION - 1)]
    assert current == {"loaded": True, "statuses": [["live", None]], "closed": None}
    assert older == {"loaded": False, "statuses": [["closed", "outdated"]], "closed": 4000}
