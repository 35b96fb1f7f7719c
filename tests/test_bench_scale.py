"""A small size of ``python -m bench scale`` (docs/performance.md), so the benchmark cannot rot and
its correctness holds at every size: a few hundred attendees join at once, each with its own
session, everyone gets every round, and nobody who answers the heartbeats is closed as idle
(heartbeats every second, idle timeout 3 s, everyone stays past it). Then the scenarios: a tenth
of the attendees ask, everyone votes (every command answered, the totals exact), a burst of
questions approved within a second reaches everyone, and slow readers hold back nobody else; on
PostgreSQL with two server processes sharing Redis too. Speed is not asserted here."""

from __future__ import annotations

from typing import Any

from bench.scale_bench import Scenarios, run, run_parley
from tests.fixtures.services import need
from tests.fixtures.tiers import refuse_process

CLIENTS, ROUNDS, BURST = 300, 3, 20


def check_scenarios(parley: dict[str, Any], clients: int, *, slow: bool) -> None:
    votes = parley["votes"]
    assert votes["questions"] == clients // 10, votes
    assert votes["asks"]["answers"] == {"ok": clients // 10}, votes
    # moderated: the votes go to the questions the moderator approved while the floor asked
    assert votes["moderated"] and 0 < votes["published"] <= 30, votes
    assert votes["votes"]["answers"] == {"ok": clients}, "every vote answered, none refused"
    assert votes["votes_counted"] == votes["votes_expected"] == clients, votes
    assert votes["questions_with_wrong_totals"] == 0, votes
    burst = parley["burst"]
    assert burst["asks"]["answers"] == {"ok": BURST}, burst
    assert burst["rounds_reaching_everyone"] == BURST, "every approved question reached every attendee"
    if slow:
        readers = parley["slow_readers"]
        assert readers["slow_readers"] > 0, readers
        assert readers["rounds_reaching_everyone"] == readers["rounds"], "the others got every round"


def test_a_small_join_storm_joins_everyone_reaches_everyone_and_drops_nobody() -> None:
    refuse_process("the scale benchmark")
    plan = Scenarios(votes=True, vote_s=3.0, burst=BURST, slow_readers=0.05)
    row = run(CLIENTS, ROUNDS, procs=2, inflight=200, heartbeat_s=1.0, idle_timeout_s=3.0, hold_s=4.0, scenarios=plan)
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
    check_scenarios(parley, CLIENTS, slow=True)


def test_two_processes_on_postgres_and_redis_split_the_attendees_and_count_every_vote(
    postgres_available: bool, redis_url: str
) -> None:
    need("PostgreSQL", postgres_available)
    refuse_process("the scale benchmark")
    clients = 200
    plan = Scenarios(votes=True, vote_s=3.0, burst=BURST, database="postgres", servers=2, redis_url=redis_url)
    parley = run_parley(clients, 2, 2, 200, heartbeat_s=1.0, idle_timeout_s=3.0, hold_s=2.0, scenarios=plan)
    assert parley["servers"] == 2 and parley["database"] == "postgres"
    assert parley["joined"] == clients, parley
    assert parley["rounds_reaching_everyone"] == 2, "a moderator on one process reaches attendees on both"
    assert parley["closes"] == {}, parley
    assert parley["server_tracebacks"] == 0, parley
    check_scenarios(parley, clients, slow=False)
