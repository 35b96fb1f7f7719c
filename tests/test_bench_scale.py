"""A small size of ``python -m bench scale`` (docs/performance.md), so the benchmark cannot rot and
its correctness holds at every size: a few hundred attendees join at once, each with its own
session, everyone gets every round, and nobody who answers the heartbeats is closed as idle
(heartbeats every second, idle timeout 3 s, everyone stays past it). Speed is not asserted here."""

from __future__ import annotations

from bench.scale_bench import run
from tests.fixtures.tiers import refuse_process

CLIENTS, ROUNDS = 300, 3


def test_a_small_join_storm_joins_everyone_reaches_everyone_and_drops_nobody() -> None:
    refuse_process("the scale benchmark")
    row = run(CLIENTS, ROUNDS, procs=2, inflight=200, heartbeat_s=1.0, idle_timeout_s=3.0, hold_s=4.0)
    for name in ("baseline", "parley"):
        result = row[name]
        assert result["joined"] == CLIENTS, (name, result)
        assert result["rounds_reaching_everyone"] == ROUNDS, (name, result)
        assert result["closes"] == {}, (name, result)
    parley = row["parley"]
    assert parley["failed_handshakes"] == 0, parley
    assert parley["idle_closes"] == 0, parley
    assert parley["heartbeats_received"] >= CLIENTS * 2, "everyone got heartbeats and answered them"
    assert parley["server_tracebacks"] == 0, parley
