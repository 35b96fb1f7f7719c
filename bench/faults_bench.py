"""Faults injected into a running Parley, and what every client saw: ``python -m bench faults``.

Each scenario connects N attendee clients that behave like the frontend's connection.js
(tests/fixtures/resuming.py), lets the moderator post a steady stream of notices, injects one fault
in the middle of the stream, and at the end compares every client's state with a fresh snapshot
and checks its seq history: events committed, deliveries owed, delivered, covered by a resync,
lost, duplicated, resyncs, reconnects and the longest time a client took to be live again.
The worker scenarios (reminders, reports) are in bench/faults_workers.py.

Everything runs on 127.0.0.1; each scenario has its own timeout; the JSON goes to
bench/results/faults.json and a Markdown table is printed.

    python -m bench faults                      # every scenario, default sizes
    python -m bench faults --clients 20 --events 60 --only sigkill-embedded lost-publish
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import faults_stacks
from bench.faults_stacks import HEARTBEAT_S, Stack
from tests.fixtures.resuming import ResumingClient, fresh_snapshot, score

RESULTS = Path(__file__).resolve().parent / "results" / "faults.json"
Inject = Callable[[Stack, "Run"], Coroutine[Any, Any, str]]


@dataclass
class Run:
    """A scenario while it runs: its clients and the moderator."""

    clients: list[ResumingClient]
    moderator: ResumingClient
    heartbeat_s: float
    restore: Callable[[], None] | None = None  # undoes an injection inside the server


# --- the faults ---------------------------------------------------------------------------------------


async def sigkill_and_restart(stack: Stack, run: Run) -> str:
    server = stack.servers[0]
    server.kill()
    await asyncio.sleep(1.0)  # a supervisor restarts it about a second later
    await asyncio.to_thread(stack.restart, 0)
    return f"SIGKILL of the server on :{server.port}, restarted after 1 s"


async def restart_redis(stack: Stack, run: Run) -> str:
    assert stack.redis is not None
    stack.redis.kill()
    await asyncio.sleep(1.0)
    await stack.redis.start()
    return "redis-server SIGKILLed, started again (empty) after 1 s"


async def cut_postgres(stack: Stack, run: Run) -> str:
    cut = 0
    for _ in range(3):  # a few times, so some land in the middle of a command
        cut += await asyncio.to_thread(stack.cut_database_connections)
        await asyncio.sleep(0.3)
    return f"pg_terminate_backend on {cut} connections, three times 0.3 s apart"


async def lose_one_publish(stack: Stack, run: Run) -> str:
    from server.adapters.bus.base import BusUnavailable

    bus = stack.runtime.bus
    publish = bus.publish
    lost: list[str] = []

    async def publish_once_lost(name: str, text: str) -> None:
        if not lost and name.endswith(":public"):
            lost.append(text)
            bus.publish = publish  # only this one
            raise BusUnavailable("the bus went away for a moment")
        await publish(name, text)

    bus.publish = publish_once_lost
    return "the next public publish after its commit fails (the event is in the log, not on the bus)"


async def break_direct_writer(stack: Stack, run: Run) -> str:
    from server.entrypoints.ws.wire import _SansIOWriter

    writable = _SansIOWriter.writable
    calls = {"n": 0}

    def moved_internals(self: _SansIOWriter) -> bool:  # as if a uvicorn upgrade renamed what it reads
        calls["n"] += 1
        if calls["n"] > 3:
            raise AttributeError("'WebSocketsSansIOProtocol' object has no attribute 'writable'")
        return writable(self)

    _SansIOWriter.writable = moved_internals  # type: ignore[method-assign]
    run.restore = lambda: setattr(_SansIOWriter, "writable", writable)
    return "every socket's direct frame writer starts raising (uvicorn internals changed)"


async def slow_readers(stack: Stack, run: Run) -> str:
    slow = run.clients[: max(1, len(run.clients) // 10)]
    for client in slow:
        client.pause_reading = 5.0
    return f"{len(slow)} clients stop reading for 5 s"


async def join_storm(stack: Stack, run: Run) -> str:
    newcomers = [ResumingClient(stack.urls, t, heartbeat_s=run.heartbeat_s) for t in stack.storm_tokens]
    for client in newcomers:
        client.start()
    run.clients.extend(newcomers)
    return f"{len(newcomers)} more clients connect at the same moment"


@dataclass
class Scenario:
    name: str
    fault: str
    stack: Callable[[int], Any]
    inject: Inject
    user_sees: str
    timeout_s: float = 150.0
    storm: bool = False


SCENARIOS = [
    Scenario(
        "sigkill-embedded",
        "server SIGKILL (embedded: SQLite + memory bus)",
        faults_stacks.embedded,
        sigkill_and_restart,
        "'reconnecting' until the server is back (up to {recovery:.0f} s here, most of it the server's start),"
        " then the missed notices replayed in order",
    ),
    Scenario(
        "sigkill-production",
        "server SIGKILL (production: PostgreSQL + Redis, 2 servers)",
        faults_stacks.production,
        sigkill_and_restart,
        "tabs on the killed server show 'reconnecting' for up to {recovery:.1f} s, then resume on the other"
        " server with the missed notices replayed",
    ),
    Scenario(
        "redis-restart",
        "Redis restart (production)",
        faults_stacks.production,
        restart_redis,
        "notices up to {delay:.1f} s late while Redis restarts; each tab reloads its state once (resync),"
        " without losing anything",
    ),
    Scenario(
        "postgres-cut",
        "PostgreSQL connections cut mid-command (production)",
        faults_stacks.production,
        cut_postgres,
        "the moderator's command in flight may fail with an error (to repeat); attendees see notices"
        " up to {delay:.1f} s late",
    ),
    Scenario(
        "lost-publish",
        "a publish lost after its commit (embedded)",
        faults_stacks.in_process,
        lose_one_publish,
        "the lost notice appears late (up to {delay:.2f} s), caught up from the event log",
    ),
    Scenario(
        "direct-writer-fails",
        "the direct frame writer raises (embedded)",
        faults_stacks.in_process,
        break_direct_writer,
        "nothing (worst notice delay {delay:.2f} s): frames go through ASGI from then on; one warning in the log",
    ),
    Scenario(
        "slow-reader",
        "slow readers: 10% stop reading for 5 s (embedded)",
        faults_stacks.embedded,
        slow_readers,
        "the slow tabs, silent past the idle timeout (3 s here), are closed, reconnect and get every notice"
        " replayed in order, up to {delay:.1f} s late; the others are unaffected",
    ),
    Scenario(
        "join-storm",
        "join storm: a few hundred connect at once mid-stream (embedded)",
        faults_stacks.embedded,
        join_storm,
        "newcomers load their page and follow; the notices reach someone at most {delay:.1f} s late",
        timeout_s=300.0,
        storm=True,
    ),
]


# --- one scenario ------------------------------------------------------------------------------------


async def settle(clients: list[ResumingClient], stack: Stack, within: float) -> Any:
    """Wait until every client is at the committed seq (or ``within`` passed); the fresh snapshot."""
    deadline = time.monotonic() + within
    while True:
        final = await fresh_snapshot(stack.urls[-1], stack.moderator)
        if all(c.seq == final.channels.public.seq and c.state is not None for c in clients):
            return final
        if time.monotonic() > deadline:
            return final
        await asyncio.sleep(0.25)


async def run_scenario(spec: Scenario, clients: int, events: int, storm: int) -> dict[str, Any]:
    started = time.monotonic()
    async with spec.stack(clients) as stack:
        if spec.storm:
            stack.storm_tokens = stack.more_attendees(storm)
        followers = [
            ResumingClient(stack.urls, token, heartbeat_s=HEARTBEAT_S, start_index=i)
            for i, token in enumerate(stack.attendees[:clients])
        ]
        start_seq = (await fresh_snapshot(stack.urls[0], stack.moderator)).channels.public.seq
        for client in followers:
            client.start()
        moderator = ResumingClient(stack.urls, stack.moderator, heartbeat_s=HEARTBEAT_S, follow_positions=False)
        moderator.start()
        async with asyncio.timeout(60):
            for client in [*followers, moderator]:
                await client.live.wait()
        run = Run(followers, moderator, HEARTBEAT_S)
        refused: dict[str, int] = {}
        acks: dict[str, float] = {}
        fault = ""
        fault_at = events * 2 // 5
        injecting: asyncio.Task[str] | None = None
        stream_started = time.monotonic()
        for i in range(events):
            if i == fault_at:
                injecting = asyncio.create_task(spec.inject(stack, run))
            text = f"Notice {i}: " + random.choice("abcdef") * 40
            answer = await moderator.command("notice.set", text=text)
            if answer["type"] == "result":
                acks[text] = time.monotonic()
            else:
                refused[answer.get("code", "?")] = refused.get(answer.get("code", "?"), 0) + 1
            await asyncio.sleep(0.02)
        stream_s = time.monotonic() - stream_started
        if injecting is not None:
            fault = await injecting
        if run.restore is not None:
            run.restore()
        final = await settle(run.clients, stack, within=15)
        hub = stack.runtime.hub if stack.runtime is not None else None
        server_side = (
            {"direct_failures": hub.direct_failures, "feed_restarts": hub.feed_restarts} if hub is not None else {}
        )
        result = score(run.clients, final, start_seq, acks)
        for client in [*run.clients, moderator]:
            await client.stop()
    return {
        "scenario": spec.name,
        "fault": spec.fault,
        "mode": stack.mode,
        "injected": fault,
        "clients": len(run.clients),
        "commands_sent": events,
        "commands_refused": refused,
        **{k: v for k, v in asdict(result).items() if k != "clients"},
        "stream_s": round(stream_s, 1),
        "server": server_side,
        "max_recovery_s": round(result.max_recovery_s, 2),
        "max_delay_s": round(result.max_delay_s, 2),
        "user_sees": spec.user_sees.format(recovery=result.max_recovery_s, delay=result.max_delay_s),
        "seconds": round(time.monotonic() - started, 1),
    }


async def run_bounded(spec: Scenario, clients: int, events: int, storm: int) -> dict[str, Any]:
    try:
        async with asyncio.timeout(spec.timeout_s):
            return await run_scenario(spec, clients, events, storm)
    except TimeoutError:
        return {"scenario": spec.name, "fault": spec.fault, "error": f"timed out after {spec.timeout_s:.0f} s"}
    except Exception as exc:  # a broken scenario is reported, the others still run
        return {"scenario": spec.name, "fault": spec.fault, "error": f"{type(exc).__name__}: {exc}"}


# --- the table ---------------------------------------------------------------------------------------


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| fault | clients | events committed | deliveries owed | delivered | covered by resync | lost |"
        " duplicated | states equal | resyncs | resumes | reconnects | commands refused | max reconnect |"
        " max event delay |"
        " what the user sees |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['fault']} | {r['error']} |" + " |" * (head.count("|") - 3))
            continue
        if "summary" in r:
            lines.append(f"| {r['fault']} | {r['summary']} |" + " |" * (head.count("|") - 3))
            continue
        refused = ", ".join(f"{n} {code}" for code, n in r["commands_refused"].items()) or "0"
        lines.append(
            f"| {r['fault']} | {r['clients']} | {r['committed']} | {r['expected']} | {r['delivered']} |"
            f" {r['covered']} | {r['lost']} | {r['duplicated']} | {r['states_equal']}/{r['clients']} |"
            f" {r['resyncs']} | {r['resumes']} | {r['reconnects']} | {refused} | {r['max_recovery_s']:.1f} s |"
            f" {r['max_delay_s']:.2f} s |"
            f" {r['user_sees']} |"
        )
    return "\n".join(lines)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    system = f"{platform.system()} {platform.release()}"
    return f"{system}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    from bench import faults_workers

    parser = argparse.ArgumentParser(prog="python -m bench faults", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--events", type=int, default=150, help="notices the moderator posts per scenario")
    parser.add_argument("--storm", type=int, default=300, help="clients of the join storm")
    parser.add_argument("--mails", type=int, default=30, help="reminders due in the worker scenario")
    names = [s.name for s in SCENARIOS] + list(faults_workers.SCENARIOS)
    parser.add_argument("--only", nargs="*", choices=names, default=names)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"faults: {args.clients} clients, {args.events} events per scenario, {when}, {machine()}")
    rows = []
    for spec in SCENARIOS:
        if spec.name in args.only:
            row = asyncio.run(run_bounded(spec, args.clients, args.events, args.storm))
            print(f"  {spec.name}: {json.dumps(row)}", flush=True)
            rows.append(row)
    for name, scenario in faults_workers.SCENARIOS.items():
        if name in args.only:
            row = faults_workers.run_bounded(name, scenario, args.mails)
            print(f"  {name}: {json.dumps(row)}", flush=True)
            rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    command = "python -m bench faults " + " ".join(argv or [])
    args.out.write_text(
        json.dumps({"command": command.strip(), "date": when, "machine": machine(), "scenarios": rows}, indent=2) + "\n"
    )
    print()
    print(table(rows))
    bad = [
        r
        for r in rows
        if "error" in r
        or r.get("lost")
        or r.get("missing")
        or (r.get("duplicated") and not r.get("duplicates_identical"))
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
