"""The join storm and the fan-out at scale: Parley against a raw ``websockets.broadcast()`` server,
both on uvloop, both measured with the same light client (``bench/wsclient.py``) in the same run.

Every attendee connects at once (a bounded number of handshakes in flight, as a proxy or a busy
browser population would), each with its own session for Parley. Measured, for each server:
how long until everyone had its snapshot (joins per second), the 1013s absorbed by backoff, the
failed joins, server memory per connection, then rounds of one moderator action each (a
``notice.set``; a 300-byte broadcast for the baseline): the latency until each client got it.
Parley runs with a short heartbeat and idle timeout (5 s / 15 s), so a storm longer than the idle
timeout shows whether a healthy client is ever closed as idle.

    python -m bench scale --clients 10000          # what `make bench` runs
    python -m bench scale --clients 300 --rounds 3  # the correctness size (tests/test_bench_scale.py)

Writes ``bench/results/latest.json`` (``--out`` to change it). Clients and servers share this
machine's cores: compare the ratios to the baseline of the same run, not absolute times.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.fanout_bench import ROOT, free_port, rss_kib, wait_port

MARKER = "@@R"
JOIN_TIMEOUT_S = 600.0
RESULTS = ROOT / "bench" / "results" / "latest.json"
TARGETS = {
    "joins_per_s": 1000,
    "join_rate_vs_baseline": 0.6,
    "fanout_p99_vs_baseline": 1.0,
    "kib_per_connection": 30,
}


# --- client processes -----------------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) that process ``pid`` has used: on a shared machine, the cost of a
    join is its CPU, not the wall-clock time the other processes leave it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client_main(
    url: str,
    tokens: list[str | None],
    origin: str,
    inflight: int,
    start_at: float,
    out: Any,
    stop: Any,
    ctl: Any = None,
    slow: frozenset[int] = frozenset(),
) -> None:
    import uvloop

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 30000), hard))
    uvloop.run(_clients(url, tokens, origin, inflight, start_at, out, stop, ctl, slow))


async def _clients(
    url: str,
    tokens: list[str | None],
    origin: str,
    inflight: int,
    start_at: float,
    out: Any,
    stop: Any,
    ctl: Any = None,
    slow: frozenset[int] = frozenset(),
) -> None:
    from bench.wsclient import Tally, connect

    tally = Tally(marker=MARKER.encode())
    gate = asyncio.Semaphore(inflight)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    tasks = []
    for index, token in enumerate(tokens):
        headers = {"Origin": origin}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        tasks.append(asyncio.create_task(connect(url, headers, tally, gate, index, small_buffer=index in slow)))
    deadline = time.time() + JOIN_TIMEOUT_S
    while tally.joined < len(tokens) and time.time() < deadline:  # noqa: ASYNC110 - counters set by protocols
        await asyncio.sleep(0.05)
    out.put(
        (
            "joined",
            {
                "joined": tally.joined,
                "last_join": max(tally.join_times, default=start_at),
                "try_again": tally.try_again,
                "failed": tally.failed,
            },
        )
    )
    while not stop.is_set():  # noqa: ASYNC110 - a multiprocessing event, set by the parent process
        order = _next_order(ctl)
        if order is None:
            await asyncio.sleep(0.05)
        elif order[0] == "send":
            out.put(("answers", await _send_commands(tally, *order[1:])))
        elif order[0] in ("stop_reading", "resume_reading"):
            for index in order[1]:
                if index in tally.clients:
                    getattr(tally.clients[index], order[0])()
            out.put(("stopped", {}))
    ended_early = sum(1 for t in tasks if t.done())
    out.put(
        (
            "done",
            {
                "rounds": tally.rounds,
                "closes": tally.closes,
                "heartbeats": tally.heartbeats,
                "ended_early": ended_early,
                "try_again": tally.try_again,
                "failed": tally.failed,
            },
        )
    )
    for t in tasks:
        t.cancel()


def _next_order(ctl: Any) -> tuple[Any, ...] | None:
    if ctl is None:
        return None
    try:
        return ctl.get_nowait()  # type: ignore[no-any-return]
    except queue.Empty:
        return None


async def _send_commands(
    tally: Any, frames: list[tuple[int, dict[str, Any]]], spread_s: float, answer_timeout_s: float
) -> dict[str, Any]:
    """Send each connection's command, spread evenly over ``spread_s``; wait for every answer (or the
    timeout). Returns, per cid, (latency of the answer in ms or None, its code, its data)."""
    t0 = time.time()
    sent: dict[str, float] = {}
    gone = 0
    for k, (index, frame) in enumerate(frames):
        delay = t0 + spread_s * k / max(1, len(frames)) - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        client = tally.clients.get(index)
        tally.answers.pop(frame["cid"], None)
        if client is None or not client.send(frame):
            gone += 1
            continue
        sent[frame["cid"]] = time.time()
    deadline = time.time() + answer_timeout_s
    while time.time() < deadline and any(cid not in tally.answers for cid in sent):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    answers = {}
    for cid, at in sent.items():
        got = tally.answers.get(cid)
        answers[cid] = (round((got[0] - at) * 1000, 2), got[1], got[2]) if got else (None, "unanswered", None)
    return {"answers": answers, "not_sent": gone}


@dataclass
class Crowd:
    """The client processes of one server's run."""

    tokens: list[str | None]
    url: str
    origin: str
    procs: int
    inflight: int
    out: Any = None
    stop: Any = None
    ctls: list[Any] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)  # several servers: process i joins urls[i % len]
    workers: list[Any] = field(default_factory=list)
    start_at: float = 0.0
    slow: frozenset[int] = frozenset()  # attendees that will stop reading: a small receive buffer

    def join(self) -> dict[str, Any]:
        ctx = multiprocessing.get_context("fork")
        self.out, self.stop = ctx.Queue(), ctx.Event()
        self.ctls = [ctx.Queue() for _ in range(self.procs)]
        urls = self.urls or [self.url]
        chunks = [self.tokens[i :: self.procs] for i in range(self.procs)]
        self.start_at = time.time() + 1.0  # every process imported and ready: the storm starts at once
        per_proc = max(1, self.inflight // self.procs)
        self.workers = [
            ctx.Process(
                target=_client_main,
                args=(
                    urls[i % len(urls)],
                    chunk,
                    self.origin,
                    per_proc,
                    self.start_at,
                    self.out,
                    self.stop,
                    ctl,
                    frozenset(k // self.procs for k in self.slow if k % self.procs == i),
                ),
                daemon=True,
            )
            for i, (chunk, ctl) in enumerate(zip(chunks, self.ctls, strict=True))
            if chunk
        ]
        for w in self.workers:
            w.start()
        parts = [self._get("joined", timeout=900) for _ in self.workers]
        joined = sum(p["joined"] for p in parts)
        seconds = max(p["last_join"] for p in parts) - self.start_at
        return {
            "clients": len(self.tokens),
            "joined": joined,
            "join_s": round(seconds, 2),
            "joins_per_s": round(joined / seconds, 1) if seconds > 0 else None,
            "try_again": sum(p["try_again"] for p in parts),
            "failed_handshakes": sum(p["failed"] for p in parts),
        }

    def send(
        self, frames: dict[int, dict[str, Any]], spread_s: float, answer_timeout_s: float = 60.0
    ) -> dict[str, Any]:
        """Each attendee ``i`` in ``frames`` (its index in ``tokens``) sends its command frame, all
        of them spread over ``spread_s`` seconds; every answer, by cid: (latency ms, code, data)."""
        parts: list[list[tuple[int, dict[str, Any]]]] = [[] for _ in range(self.procs)]
        for i, frame in sorted(frames.items()):
            parts[i % self.procs].append((i // self.procs, frame))
        busy = [n for n, part in enumerate(parts) if part]
        for n in busy:
            self.ctls[n].put(("send", parts[n], spread_s, answer_timeout_s))
        answers: dict[str, Any] = {}
        not_sent = 0
        for _ in busy:
            got = self._get("answers", timeout=spread_s + answer_timeout_s + 60)
            answers.update(got["answers"])
            not_sent += got["not_sent"]
        return {"answers": answers, "not_sent": not_sent}

    def stop_reading(self, indices: list[int], order: str = "stop_reading") -> None:
        """Attendees at ``indices`` stop reading their socket (and stay connected), or with
        ``order="resume_reading"`` read again."""
        for n in range(len(self.workers)):
            self.ctls[n].put((order, [i // self.procs for i in indices if i % self.procs == n]))
        for _ in self.workers:
            self._get("stopped", timeout=60)

    def finish(self) -> dict[str, Any]:
        self.stop.set()
        parts = [self._get("done", timeout=120) for _ in self.workers]
        for w in self.workers:
            w.join(10)
            if w.is_alive():
                w.kill()
        rounds: dict[int, list[float]] = {}
        closes: dict[int, int] = {}
        for p in parts:
            for r, times in p["rounds"].items():
                rounds.setdefault(r, []).extend(times)
            for code, n in p["closes"].items():
                closes[code] = closes.get(code, 0) + n
        return {
            "rounds": rounds,
            "closes": closes,
            "heartbeats": sum(p["heartbeats"] for p in parts),
            "ended_early": sum(p["ended_early"] for p in parts),
            "try_again": sum(p["try_again"] for p in parts),
            "failed_handshakes": sum(p["failed"] for p in parts),
        }

    def _get(self, kind: str, timeout: float) -> dict[str, Any]:
        got, value = self.out.get(timeout=timeout)
        assert got == kind, f"a client process said {got} instead of {kind}"
        return value  # type: ignore[no-any-return]


def fanout(sent: dict[int, float], received: dict[int, list[float]], clients: int) -> dict[str, Any]:
    p50s, p99s, lasts, complete = [], [], [], 0
    for r, t0 in sent.items():
        # the first ``clients`` to receive it (slow readers that read again later come last)
        lat = sorted((t - t0) * 1000 for t in received.get(r, []))[:clients]
        if len(lat) >= clients:
            complete += 1
        if not lat:
            continue
        p50s.append(lat[len(lat) // 2])
        p99s.append(lat[min(len(lat) - 1, int(len(lat) * 0.99))])
        lasts.append(lat[-1])
    med = lambda xs: round(sorted(xs)[len(xs) // 2], 1) if xs else None  # noqa: E731
    return {
        "rounds": len(sent),
        "rounds_reaching_everyone": complete,
        "fanout_p50_ms": med(p50s),
        "fanout_p99_ms": med(p99s),
        "fanout_all_ms": med(lasts),
    }


# --- the raw baseline -------------------------------------------------------------------------------------

BASELINE_SERVER = r"""
import asyncio, sys, resource, uvloop, websockets
_soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 30000), hard))
clients = set()
async def handler(ws):
    clients.add(ws)
    await ws.send("hello")
    try:
        await ws.wait_closed()
    finally:
        clients.discard(ws)
async def main():
    async with websockets.serve(handler, "127.0.0.1", int(sys.argv[1]), compression=None, max_queue=None,
                                ping_interval=None, backlog=4096):
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            websockets.broadcast(clients, line.strip())
            print("sent", flush=True)
uvloop.run(main())
"""


def run_baseline(clients: int, rounds: int, procs: int, inflight: int) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", BASELINE_SERVER, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        wait_port(port)
        before, cpu = rss_kib(server.pid), cpu_s(server.pid)
        crowd = Crowd([None] * clients, f"ws://127.0.0.1:{port}/", f"http://127.0.0.1:{port}", procs, inflight)
        result = crowd.join()
        result["server_cpu_ms_per_join"] = round((cpu_s(server.pid) - cpu) * 1000 / clients, 2)
        result["kib_per_connection"] = round((rss_kib(server.pid) - before) / clients, 1)
        sent = {}
        assert server.stdin is not None and server.stdout is not None
        for r in range(rounds):
            time.sleep(0.5)
            sent[r] = time.time()
            server.stdin.write(f"{MARKER}{r:06d}" + "x" * 290 + "\n")
            server.stdin.flush()
            server.stdout.readline()
        time.sleep(2.0)
        seen = crowd.finish()
        result.update(fanout(sent, seen["rounds"], clients))
        result["closes"] = seen["closes"]
        return result
    finally:
        server.kill()
        server.wait(10)


# --- Parley -----------------------------------------------------------------------------------------------


@dataclass
class Scenarios:
    """What ``bench scale`` runs after the join storm and the notice rounds (all off by default)."""

    votes: bool = False  # 10 % of attendees ask, then everyone votes, spread over vote_s
    vote_s: float = 60.0
    votes_unmoderated: bool = False  # the stress variant: moderation off, every ask published at once
    approvals: int = 30  # moderated: the questions the moderator approves, spread over the asks' window
    burst: int = 0  # questions approved by the moderator within one second
    slow_readers: float = 0.0  # share of attendees that stop reading before the slow rounds
    flood: int = 0  # then this many notices at once: the slow sockets' outboxes reach their limit
    database: str = "sqlite"  # or "postgres": a fresh database at PARLEY_TEST_PG_* (127.0.0.1:5432)
    servers: int = 1  # 2: two `parley serve` on PostgreSQL and Redis, attendees split, moderator on the first
    redis_url: str = ""

    def any(self) -> bool:
        return self.votes or self.burst > 0 or self.slow_readers > 0


def _database(kind: str, data: Path) -> tuple[str, str, str]:
    """(PARLEY_DATABASE_URL, the sync URL for seeding, the PostgreSQL database to drop after or "")."""
    if kind == "sqlite":
        return "", f"sqlite:///{data / 'parley.db'}", ""
    if kind != "postgres":
        raise SystemExit(f"--database: sqlite or postgres, not {kind!r}")
    from tests.fixtures.services import pg_admin_execute, pg_url

    name = f"parley_scale_{os.getpid()}_{int(time.time())}"
    pg_admin_execute(f'CREATE DATABASE "{name}"')
    return pg_url(name, "postgresql+asyncpg"), pg_url(name), name


def run_parley(
    clients: int,
    rounds: int,
    procs: int,
    inflight: int,
    *,
    heartbeat_s: float,
    idle_timeout_s: float,
    hold_s: float,
    profile: Path | None = None,
    scenarios: Scenarios | None = None,
) -> dict[str, Any]:
    import httpx
    from sqlalchemy import create_engine, text

    from tests.fixtures.people import seed_attendees

    plan = scenarios or Scenarios()
    if plan.servers > 1 and (plan.database != "postgres" or not plan.redis_url):
        raise SystemExit("--servers 2 needs --database postgres and --redis URL (or PARLEY_TEST_REDIS_URL)")
    data = Path(tempfile.mkdtemp(prefix="parley-scale-"))
    database_url, sync_url, pg_name = _database(plan.database, data)
    ports = [free_port() for _ in range(plan.servers)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        PARLEY_DATA_DIR=str(data),
        PARLEY_SECRET_KEY="bench",
        PARLEY_HOST="127.0.0.1",
        PARLEY_PORT=str(ports[0]),
        PARLEY_PUBLIC_URL=f"http://127.0.0.1:{ports[0]}",
        PARLEY_ALLOWED_ORIGINS=",".join(f"http://127.0.0.1:{port}" for port in ports),
        PARLEY_LOG_LEVEL="warning",
        PARLEY_EMBEDDED_WORKER="false",
        PARLEY_HEARTBEAT_S=str(heartbeat_s),
        PARLEY_IDLE_TIMEOUT_S=str(idle_timeout_s),
        PYTHONPATH=str(ROOT),
    )
    if database_url:
        env["PARLEY_DATABASE_URL"] = database_url
    if plan.servers > 1:
        import redis

        redis.Redis.from_url(plan.redis_url).flushdb()
        env["PARLEY_REDIS_URL"] = plan.redis_url
    subprocess.run([sys.executable, "-m", "server.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    log_paths = [data / f"server{n}.log" for n in range(plan.servers)]
    logs = [path.open("w") for path in log_paths]
    command = ["-c", PROFILED_SERVER, str(profile)] if profile is not None else ["-m", "server.cli", "serve"]
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for n, port in enumerate(ports):  # one after the other: the first loads the programmes
            servers.append(
                subprocess.Popen(
                    [sys.executable, *command],
                    env={**env, "PARLEY_PORT": str(port)},
                    stdout=logs[n],
                    stderr=subprocess.STDOUT,
                )
            )
            wait_port(port, timeout=60)
        server = servers[0]
        tokens: list[str | None] = list(seed_attendees(sync_url, clients))
        engine = create_engine(sync_url)
        with engine.begin() as conn:  # segments may be opened on any day, as in a rehearsal copy
            conn.execute(text("UPDATE events SET is_rehearsal = true WHERE slug = 'idm-2022-1'"))
        engine.dispose()
        link = next(
            line.split("/signin/")[1].strip()
            for line in log_paths[0].read_text().splitlines()
            if line.startswith("moderator ")
        )
        base = f"http://127.0.0.1:{ports[0]}"
        mod_token = httpx.post(f"{base}/api/auth/link", json={"token": link}).json()["session_token"]
        urls = [f"ws://127.0.0.1:{port}/ws/events/idm-2022-1" for port in ports]
        url = urls[0]
        before, cpu = sum(rss_kib(s.pid) for s in servers), sum(cpu_s(s.pid) for s in servers)
        crowd = Crowd(tokens, url, base, procs, inflight, urls=urls, slow=frozenset(slow_readers(clients, plan)))
        result = crowd.join()
        result["servers"] = plan.servers
        result["database"] = plan.database
        result["server_cpu_ms_per_join"] = round((sum(cpu_s(s.pid) for s in servers) - cpu) * 1000 / clients, 2)
        result["kib_per_connection"] = round((sum(rss_kib(s.pid) for s in servers) - before) / clients, 1)
        if profile is not None and os.environ.get("BENCH_PROFILE_ROUNDS"):
            os.kill(server.pid, signal.SIGUSR2)  # the rounds only: the profile starts again here
        sent = asyncio.run(_moderate(url, mod_token, base, rounds))
        extra: dict[str, Any] = {}
        if plan.any():
            extra = asyncio.run(_scenarios(url, mod_token, base, crowd, plan, rounds, servers))
        time.sleep(max(2.0, hold_s))  # everyone answers heartbeats meanwhile: nobody may be closed as idle
        seen = crowd.finish()
        if profile is not None:
            profile.unlink(missing_ok=True)
            os.kill(server.pid, signal.SIGUSR1)
            while not profile.exists():
                time.sleep(0.2)
        result.update(fanout(sent, seen["rounds"], clients))
        for name, part in extra.items():
            if isinstance(part, dict) and "sent" in part:
                part.update(fanout(part.pop("sent"), seen["rounds"], part.pop("reaching")))
            result[name] = part
        result["closes"] = seen["closes"]
        result["idle_closes"] = seen["closes"].get(4408, 0)
        result["heartbeats_received"] = seen["heartbeats"]
        result["try_again"] = seen["try_again"]
        result["failed_handshakes"] = seen["failed_handshakes"]
        for log in logs:
            log.flush()
        text_ = "".join(path.read_text() for path in log_paths)
        result["server_tracebacks"] = text_.count("Traceback")
        result["server_warnings"] = sorted(
            {line.split(": ", 1)[-1][:160] for line in text_.splitlines() if " WARNING " in line}
        )[:20]
        return result
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        for log in logs:
            log.close()
        shutil.rmtree(data, ignore_errors=True)
        if pg_name:
            from tests.fixtures.services import pg_admin_execute

            pg_admin_execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def _percentiles(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 1) if ordered else None  # noqa: E731
    return {"p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": pick(1.0)}


def _answered(answers: dict[str, Any]) -> dict[str, Any]:
    codes: dict[str, int] = {}
    for _latency, code, _data in answers.values():
        codes[code] = codes.get(code, 0) + 1
    latencies = [latency for latency, code, _data in answers.values() if latency is not None]
    return {"commands": len(answers), "answers": codes, **_percentiles(latencies)}


class Moderator:
    """The moderator's connection during the scenarios: sends commands, keeps what it hears."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.results: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.counts: dict[int, int] = {}  # question id -> votes, from question.votes_updated
        self.counts_changed = asyncio.Event()
        self.pending: list[int] = []  # question ids heard in question.asked (the staff channel), in order
        self.snapshot: dict[str, Any] = {}
        self.n = 0

    async def read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "heartbeat":  # answered, as a browser does: the scenarios outlast the idle timeout
                self.n += 1
                await self.ws.send(json.dumps({"type": "ping", "cid": f"m{self.n}"}))
            elif kind == "snapshot":
                self.snapshot = message
            elif kind in ("result", "error") and message.get("cid") in self.results:
                future = self.results[message["cid"]]
                if not future.done():
                    future.set_result(message)
            elif kind == "event" and message["event"]["type"] == "question.asked":
                self.pending.append(int(message["event"]["question"]["id"]))
            elif kind == "event" and message["event"]["type"] == "question.votes_updated":
                self.counts.update({int(q): n for q, n in message["event"]["counts"].items()})
                self.counts_changed.set()

    async def send(self, frame: dict[str, Any], wait: bool = True) -> dict[str, Any] | None:
        self.n += 1
        frame = {**frame, "cid": f"m{self.n}"}
        future = asyncio.get_running_loop().create_future()
        self.results[frame["cid"]] = future
        await self.ws.send(json.dumps(frame))
        if not wait:
            return None
        answer = await asyncio.wait_for(future, 60)
        if answer["type"] == "error" and answer.get("code") not in ("invalid_transition",):
            raise RuntimeError(f"the moderator's {frame['type']} was refused: {answer}")
        return answer


async def _scenarios(
    url: str, token: str, origin: str, crowd: Crowd, plan: Scenarios, rounds: int, servers: list[Any]
) -> dict[str, Any]:
    import websockets

    clients = len(crowd.tokens)
    out: dict[str, Any] = {}
    async with websockets.connect(  # Parley's heartbeats are the liveness check, as for browsers
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        origin=origin,
        max_size=2**26,
        ping_interval=None,
    ) as ws:
        mod = Moderator(ws)
        reader = asyncio.create_task(mod.read())
        while not mod.snapshot:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        segment = next(s["id"] for s in mod.snapshot["public"]["segments"] if s["status"] == "scheduled")
        await mod.send({"type": "segment.open", "segment_id": segment})
        try:
            if plan.votes:
                out["votes"] = await _votes(mod, crowd, plan, clients)
            if plan.burst:
                out["burst"] = await _burst(mod, crowd, plan.burst, clients, servers)
                # its commands are applied in order: once a ping is answered, every approval was, and
                # the next scenario does not start behind them
                await mod.send({"type": "ping"})
                await asyncio.sleep(3.0)
            if plan.slow_readers:
                out["slow_readers"] = await _slow(mod, crowd, plan.slow_readers, rounds, clients, servers)
                slow = out["slow_readers"].pop("slow_indices")
                if plan.flood:
                    out["slow_readers"]["flood"] = await _flood(url, token, origin, plan.flood, servers, crowd, slow)
        except Exception as exc:  # an overloaded server: say what stopped the scenarios, keep the rest
            out["scenarios_stopped"] = f"{type(exc).__name__}: {exc}"[:300]
        reader.cancel()
    return out


async def _votes(mod: Moderator, crowd: Crowd, plan: Scenarios, clients: int) -> dict[str, Any]:
    """A tenth of the attendees ask, spread over ``vote_s``; then every attendee votes for one
    published question, spread over ``vote_s`` too: every command answered, the totals the
    moderator hears exact.

    Moderated (the default, as an event runs it): the asks are pending (the staff channel only) and
    the moderator approves ``approvals`` of them, spread over the asks' window, the oldest it has
    not approved yet; the votes go to the approved questions. ``votes_unmoderated``: moderation off,
    every ask is published to everyone at once (a stress variant: 17 public events a second)."""
    moderated = not plan.votes_unmoderated
    await mod.send({"type": "qa.set_moderation", "enabled": moderated})
    askers = max(1, clients // 10)
    asks = {i: {"type": "question.ask", "cid": f"a{i}", "text": f"Question {i} from the floor"} for i in range(askers)}
    approved: list[int] = []
    approve_ms: list[float] = []

    async def approve() -> None:
        t0 = time.time()
        for k in range(plan.approvals):
            delay = t0 + plan.vote_s * (k + 0.5) / plan.approvals - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            todo = [q for q in mod.pending if q not in approved]
            if not todo:
                continue
            approved.append(todo[0])
            at = time.perf_counter()
            await mod.send({"type": "question.approve", "question_id": todo[0]})
            approve_ms.append((time.perf_counter() - at) * 1000)

    approver = asyncio.create_task(approve()) if moderated else None
    asked = await asyncio.to_thread(crowd.send, asks, plan.vote_s)  # asking spread over the window
    if approver is not None:
        await approver
    ok = sorted(data["question_id"] for _l, code, data in asked["answers"].values() if code == "ok")
    ids = sorted(approved) if moderated else ok
    expected: dict[int, int] = {}
    votes: dict[int, dict[str, Any]] = {}
    for i in range(clients):
        if ids:
            question = ids[(i * 7919) % len(ids)]
            votes[i] = {"type": "question.vote", "cid": f"v{i}", "question_id": question, "up": True}
            expected[question] = expected.get(question, 0) + 1
    voted = await asyncio.to_thread(crowd.send, votes, plan.vote_s)
    deadline = time.time() + 15
    while time.time() < deadline and any(mod.counts.get(q, 0) != n for q, n in expected.items()):
        mod.counts_changed.clear()
        try:
            await asyncio.wait_for(mod.counts_changed.wait(), 1.0)
        except TimeoutError:
            pass
    wrong = sum(1 for q, n in expected.items() if mod.counts.get(q, 0) != n)
    return {
        "moderated": moderated,
        "asks": _answered(asked["answers"]),
        "questions": len(ok),
        "published": len(ids),
        "approvals": _percentiles(approve_ms) if moderated else None,
        "vote_window_s": plan.vote_s,
        "votes": _answered(voted["answers"]),
        "not_sent": asked["not_sent"] + voted["not_sent"],
        "votes_expected": sum(expected.values()),
        "votes_counted": sum(mod.counts.get(q, 0) for q in expected),
        "questions_with_wrong_totals": wrong,
    }


async def _burst(mod: Moderator, crowd: Crowd, burst: int, clients: int, servers: list[Any]) -> dict[str, Any]:
    """``burst`` pending questions approved within one second: latency from each approval until each
    attendee has its ``question.published``."""
    await mod.send({"type": "qa.set_moderation", "enabled": True})
    first = clients - burst
    asks = {
        first + k: {"type": "question.ask", "cid": f"b{k}", "text": f"{MARKER}{1000 + k:06d} burst question"}
        for k in range(burst)
    }
    asked = await asyncio.to_thread(crowd.send, asks, 2.0)
    ids = {int(cid[1:]): data["question_id"] for cid, (_l, code, data) in asked["answers"].items() if code == "ok"}
    await asyncio.sleep(1.0)
    rss = sum(rss_kib(s.pid) for s in servers)
    sent: dict[int, float] = {}
    t0 = time.time()
    for k, question in sorted(ids.items()):
        delay = t0 + k / burst - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent[1000 + k] = time.time()
        await mod.send({"type": "question.approve", "question_id": question}, wait=False)
    await asyncio.sleep(3.0)
    return {
        "questions": burst,
        "asks": _answered(asked["answers"]),
        "approved_in_s": round(max(sent.values(), default=t0) - t0, 2),
        "server_rss_growth_kib": sum(rss_kib(s.pid) for s in servers) - rss,
        "sent": sent,
        "reaching": clients,
    }


def slow_readers(clients: int, plan: Scenarios) -> list[int]:
    """The attendees (indices) that stop reading in the slow-reader scenario."""
    if plan.slow_readers <= 0:
        return []
    return list(range(0, clients, max(1, round(1 / plan.slow_readers))))


async def _slow(
    mod: Moderator, crowd: Crowd, share: float, rounds: int, clients: int, servers: list[Any]
) -> dict[str, Any]:
    """A share of attendees stop reading; the moderator then sends the notice rounds again, each
    with 20 questions approved around it to add weight: the others' fan-out, the server's memory."""
    slow = slow_readers(clients, Scenarios(slow_readers=share))
    await asyncio.to_thread(crowd.stop_reading, slow)
    rss = [sum(rss_kib(s.pid) for s in servers)]
    sent: dict[int, float] = {}
    pad = "y" * 250
    for r in range(rounds * 4):
        await asyncio.sleep(0.25)
        sent[2000 + r] = time.time()
        await mod.send({"type": "notice.set", "text": f"{MARKER}{2000 + r:06d} {pad}"}, wait=False)
        rss.append(sum(rss_kib(s.pid) for s in servers))
    await asyncio.sleep(3.0)
    rss.append(sum(rss_kib(s.pid) for s in servers))
    return {
        "slow_readers": len(slow),
        "slow_indices": slow,
        "server_rss_growth_kib": max(rss) - rss[0],
        "server_rss_after_kib": rss[-1],
        "sent": sent,
        "reaching": clients - len(slow),
    }


FLOOD_PER_CONNECTION = 40
"""Notices one moderator connection sends at once: the burst its flood guard allows (10 commands a
second, bursts of 40), so a flood of N notices comes from N / 40 moderator connections."""


def server_metric(base: str, name: str) -> float:
    """The sum of the samples of ``name`` in the server's GET /metrics (every process on the machine)."""
    import httpx

    text = httpx.get(f"{base}/metrics", timeout=30).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


async def _flood(
    url: str, token: str, origin: str, notices: int, servers: list[Any], crowd: Crowd, slow: list[int]
) -> dict[str, Any]:
    """While the slow readers still do not read: ``notices`` notices as fast as the server applies
    them, more frames than the slow sockets' buffers hold, so their outboxes reach their limit
    (``OUTBOX_LIMIT``) and are dropped; then the slow readers read again and are told to resync.
    Measured: the longest outbox the server saw and its resyncs (GET /metrics), its memory before,
    at its peak and after, every notice answered."""
    import websockets

    resynced = 'parley_ws_resyncs_total{reason="server"}'
    resyncs = await asyncio.to_thread(server_metric, origin, resynced)
    rss = [sum(rss_kib(s.pid) for s in servers)]
    answered: set[str] = set()
    sockets = []
    for _ in range(-(-notices // FLOOD_PER_CONNECTION)):
        sockets.append(
            await websockets.connect(
                url,
                additional_headers={"Authorization": f"Bearer {token}"},
                origin=origin,
                max_size=2**26,
                ping_interval=None,
            )
        )

    async def drain(ws: Any, n: int) -> None:  # these connections read everything: they are not slow
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "heartbeat":
                    await ws.send(json.dumps({"type": "ping", "cid": f"fp{n}"}))
                elif message.get("type") in ("result", "error") and str(message.get("cid", "")).startswith("f-"):
                    answered.add(message["cid"])

    readers = [asyncio.create_task(drain(ws, n)) for n, ws in enumerate(sockets)]
    await asyncio.sleep(1.0)  # their snapshots
    t0 = time.time()
    for n in range(notices):
        ws = sockets[n // FLOOD_PER_CONNECTION]
        await ws.send(json.dumps({"type": "notice.set", "cid": f"f-{n}", "text": f"flood {n} " + "z" * 260}))
    deadline = time.time() + 180
    longest = 0.0
    while len(answered) < notices and time.time() < deadline:
        await asyncio.sleep(0.5)
        rss.append(sum(rss_kib(s.pid) for s in servers))
        longest = max(longest, await asyncio.to_thread(server_metric, origin, "parley_ws_outbox_longest_frames"))
    applied_s = time.time() - t0
    await asyncio.sleep(3.0)
    rss.append(sum(rss_kib(s.pid) for s in servers))
    await asyncio.to_thread(crowd.stop_reading, slow, "resume_reading")
    await asyncio.sleep(5.0)
    for ws in sockets:
        await ws.close()
    for reader in readers:
        reader.cancel()
    return {
        "notices": notices,
        "answered": len(answered),
        "applied_in_s": round(applied_s, 1),
        "longest_outbox_frames": round(longest),
        "resyncs_after_reading_again": round(await asyncio.to_thread(server_metric, origin, resynced) - resyncs),
        "server_rss_before_kib": rss[0],
        "server_rss_peak_kib": max(rss),
        "server_rss_after_kib": rss[-1],
    }


PROFILED_SERVER = r"""
import cProfile, signal, sys, tracemalloc
from server.cli import main
profile = cProfile.Profile()
def dump(*_):
    profile.disable()
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot()
        stats = snapshot.statistics("lineno")
        by_file = snapshot.statistics("filename")
        with open(target + ".memory.txt", "w") as out:
            out.write(f"traced {sum(s.size for s in stats) / 1024:.0f} KiB in {len(stats)} lines\n")
            out.writelines(f"{s}\n" for s in by_file[:30])
            out.writelines(f"{s}\n" for s in stats[:40])
    profile.dump_stats(target)
signal.signal(signal.SIGUSR1, dump)
signal.signal(signal.SIGUSR2, lambda *_: (profile.disable(), profile.clear(), profile.enable()))
target, sys.argv = sys.argv[1], ["parley", "serve"]
if __import__("os").environ.get("BENCH_TRACEMALLOC"):
    tracemalloc.start()
else:
    profile.enable()
main()
"""
"""``parley serve`` under cProfile (or tracemalloc, with ``BENCH_TRACEMALLOC=1``); SIGUSR1 writes
the profile of everything until then (and the biggest allocations still alive, ``PATH.memory.txt``)."""


async def _moderate(url: str, token: str, origin: str, rounds: int) -> dict[int, float]:
    import websockets

    sent = {}
    async with websockets.connect(
        url, additional_headers={"Authorization": f"Bearer {token}"}, origin=origin, max_size=2**24
    ) as ws:
        await ws.recv()
        for r in range(rounds):
            await asyncio.sleep(0.5)
            sent[r] = time.time()
            await ws.send(json.dumps({"type": "notice.set", "cid": f"n{r}", "text": f"{MARKER}{r:06d} " + "x" * 200}))
        await asyncio.sleep(0.5)
    return sent


# --- the run ----------------------------------------------------------------------------------------------


def machine() -> str:
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cores = f"{os.cpu_count()} cores ({model})"
    return f"{platform.system()} {platform.release()}, {cores}, Python {platform.python_version()}"


def run(
    clients: int,
    rounds: int = 5,
    procs: int = 4,
    inflight: int = 400,
    *,
    heartbeat_s: float = 5.0,
    idle_timeout_s: float = 15.0,
    hold_s: float = 0.0,
    scenarios: Scenarios | None = None,
) -> dict[str, Any]:
    plan = scenarios or Scenarios()
    baseline = run_baseline(clients, rounds, procs, inflight)
    parley = run_parley(
        clients,
        rounds,
        procs,
        inflight,
        heartbeat_s=heartbeat_s,
        idle_timeout_s=idle_timeout_s,
        hold_s=hold_s,
        scenarios=plan,
    )
    ratio = lambda a, b: round(a / b, 2) if a and b else None  # noqa: E731
    return {
        "clients": clients,
        "rounds": rounds,
        "client_processes": procs,
        "handshakes_in_flight": inflight,
        "parley_timing": {"heartbeat_s": heartbeat_s, "idle_timeout_s": idle_timeout_s},
        "baseline": baseline,
        "parley": parley,
        "ratios": {
            "join_rate_vs_baseline": ratio(parley["joins_per_s"], baseline["joins_per_s"]),
            "fanout_p99_vs_baseline": ratio(parley["fanout_p99_ms"], baseline["fanout_p99_ms"]),
            "memory_vs_baseline": ratio(parley["kib_per_connection"], baseline["kib_per_connection"]),
            "cpu_per_join_vs_baseline": ratio(parley["server_cpu_ms_per_join"], baseline["server_cpu_ms_per_join"]),
            **{
                f"{name}_fanout_p99_vs_baseline": ratio(parley[name]["fanout_p99_ms"], baseline["fanout_p99_ms"])
                for name in ("burst", "slow_readers")
                if name in parley
            },
        },
        "scenarios": plan.__dict__ | {"redis_url": bool(plan.redis_url)},
        "targets": TARGETS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--inflight", type=int, default=400, help="handshakes in flight, all processes together")
    parser.add_argument("--heartbeat", type=float, default=5.0, help="Parley's PARLEY_HEARTBEAT_S in the run")
    parser.add_argument("--idle-timeout", type=float, default=15.0, help="Parley's PARLEY_IDLE_TIMEOUT_S")
    parser.add_argument("--hold", type=float, default=0.0, help="seconds everyone stays after the rounds")
    parser.add_argument("--votes", action="store_true", help="10 %% ask, then everyone votes over --vote-window")
    parser.add_argument("--vote-window", type=float, default=60.0, help="seconds the votes are spread over")
    parser.add_argument(
        "--votes-unmoderated",
        action="store_true",
        help="with --votes: moderation off, every ask published to everyone at once (a stress variant)",
    )
    parser.add_argument(
        "--approvals", type=int, default=30, help="with --votes: questions the moderator approves over the window"
    )
    parser.add_argument("--burst", type=int, default=0, help="questions the moderator approves within one second")
    parser.add_argument("--slow-readers", type=float, default=0.0, help="share of attendees that stop reading")
    parser.add_argument(
        "--flood", type=int, default=0, help="with --slow-readers: then this many notices at once (outbox limit)"
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--servers", type=int, choices=(1, 2), default=1, help="2: on PostgreSQL and Redis")
    parser.add_argument(
        "--redis", default=os.environ.get("PARLEY_TEST_REDIS_URL", ""), help="Redis URL for --servers 2 (flushed)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--profile", type=Path, help="run Parley alone under cProfile and write its profile here (no baseline)"
    )
    args = parser.parse_args(argv)
    plan = Scenarios(
        votes=args.votes,
        vote_s=args.vote_window,
        votes_unmoderated=args.votes_unmoderated,
        approvals=args.approvals,
        burst=args.burst,
        slow_readers=args.slow_readers,
        flood=args.flood,
        database=args.database,
        servers=args.servers,
        redis_url=args.redis,
    )
    if args.profile is not None:
        result = run_parley(
            args.clients,
            args.rounds,
            args.procs,
            args.inflight,
            heartbeat_s=args.heartbeat,
            idle_timeout_s=args.idle_timeout,
            hold_s=args.hold,
            profile=args.profile.resolve(),
            scenarios=plan,
        )
        print(json.dumps(result, indent=2))
        return 0
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"scale: {args.clients} clients, {args.rounds} rounds, {args.procs} client processes, {when}, {machine()}")
    started = time.monotonic()
    row = run(
        args.clients,
        args.rounds,
        args.procs,
        args.inflight,
        heartbeat_s=args.heartbeat,
        idle_timeout_s=args.idle_timeout,
        hold_s=args.hold,
        scenarios=plan,
    )
    row = {
        "command": "python -m bench scale " + " ".join(argv or sys.argv[2:]),
        "date": when,
        "machine": machine(),
        "seconds": round(time.monotonic() - started, 1),
        **row,
    }
    for name in ("baseline", "parley"):
        r = row[name]
        print(
            f"  {name:8s} joined {r['joined']}/{r['clients']} in {r['join_s']} s ({r['joins_per_s']}/s, "
            f"{r['try_again']} told to try again, {r['failed_handshakes']} failed)  "
            f"{r['kib_per_connection']} KiB/conn  {r['server_cpu_ms_per_join']} ms CPU/join  "
            f"fan-out p50 {r['fanout_p50_ms']} ms p99 {r['fanout_p99_ms']} ms  "
            f"{r['rounds_reaching_everyone']}/{r['rounds']} rounds reached everyone  closes {r['closes']}"
        )
    for name in ("votes", "burst", "slow_readers", "scenarios_stopped"):
        if name in row["parley"]:
            print(f"  {name:12s} {json.dumps(row['parley'][name])}")
    print(f"  ratios   {row['ratios']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=2) + "\n")
    print(f"  written to {args.out}")
    return 0
