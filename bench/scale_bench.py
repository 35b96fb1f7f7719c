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
import json
import multiprocessing
import os
import platform
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
    url: str, tokens: list[str | None], origin: str, inflight: int, start_at: float, out: Any, stop: Any
) -> None:
    import uvloop

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 30000), hard))
    uvloop.run(_clients(url, tokens, origin, inflight, start_at, out, stop))


async def _clients(
    url: str, tokens: list[str | None], origin: str, inflight: int, start_at: float, out: Any, stop: Any
) -> None:
    from bench.wsclient import Tally, connect

    tally = Tally(marker=MARKER.encode())
    gate = asyncio.Semaphore(inflight)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    tasks = []
    for token in tokens:
        headers = {"Origin": origin}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        tasks.append(asyncio.create_task(connect(url, headers, tally, gate)))
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
        await asyncio.sleep(0.1)
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
    workers: list[Any] = field(default_factory=list)
    start_at: float = 0.0

    def join(self) -> dict[str, Any]:
        ctx = multiprocessing.get_context("fork")
        self.out, self.stop = ctx.Queue(), ctx.Event()
        chunks = [self.tokens[i :: self.procs] for i in range(self.procs)]
        self.start_at = time.time() + 1.0  # every process imported and ready: the storm starts at once
        per_proc = max(1, self.inflight // self.procs)
        self.workers = [
            ctx.Process(
                target=_client_main,
                args=(self.url, chunk, self.origin, per_proc, self.start_at, self.out, self.stop),
                daemon=True,
            )
            for chunk in chunks
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
        lat = sorted((t - t0) * 1000 for t in received.get(r, []))
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
) -> dict[str, Any]:
    import httpx

    from tests.fixtures.people import seed_attendees

    data = Path(tempfile.mkdtemp(prefix="parley-scale-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        PARLEY_DATA_DIR=str(data),
        PARLEY_SECRET_KEY="bench",
        PARLEY_HOST="127.0.0.1",
        PARLEY_PORT=str(port),
        PARLEY_LOG_LEVEL="warning",
        PARLEY_EMBEDDED_WORKER="false",
        PARLEY_HEARTBEAT_S=str(heartbeat_s),
        PARLEY_IDLE_TIMEOUT_S=str(idle_timeout_s),
        PYTHONPATH=str(ROOT),
    )
    subprocess.run([sys.executable, "-m", "server.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    log_path = data / "server.log"
    log = log_path.open("w")
    command = ["-c", PROFILED_SERVER, str(profile)] if profile is not None else ["-m", "server.cli", "serve"]
    server = subprocess.Popen([sys.executable, *command], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port, timeout=60)
        tokens: list[str | None] = list(seed_attendees(f"sqlite:///{data / 'parley.db'}", clients))
        link = next(
            line.split("/signin/")[1].strip()
            for line in log_path.read_text().splitlines()
            if line.startswith("moderator ")
        )
        base = f"http://127.0.0.1:{port}"
        mod_token = httpx.post(f"{base}/api/auth/link", json={"token": link}).json()["session_token"]
        url = f"ws://127.0.0.1:{port}/ws/events/idm-2022-1"
        before, cpu = rss_kib(server.pid), cpu_s(server.pid)
        crowd = Crowd(tokens, url, base, procs, inflight)
        result = crowd.join()
        result["server_cpu_ms_per_join"] = round((cpu_s(server.pid) - cpu) * 1000 / clients, 2)
        result["kib_per_connection"] = round((rss_kib(server.pid) - before) / clients, 1)
        if profile is not None and os.environ.get("BENCH_PROFILE_ROUNDS"):
            os.kill(server.pid, signal.SIGUSR2)  # the rounds only: the profile starts again here
        sent = asyncio.run(_moderate(url, mod_token, base, rounds))
        time.sleep(max(2.0, hold_s))  # everyone answers heartbeats meanwhile: nobody may be closed as idle
        seen = crowd.finish()
        if profile is not None:
            profile.unlink(missing_ok=True)
            os.kill(server.pid, signal.SIGUSR1)
            while not profile.exists():
                time.sleep(0.2)
        result.update(fanout(sent, seen["rounds"], clients))
        result["closes"] = seen["closes"]
        result["idle_closes"] = seen["closes"].get(4408, 0)
        result["heartbeats_received"] = seen["heartbeats"]
        result["try_again"] = seen["try_again"]
        result["failed_handshakes"] = seen["failed_handshakes"]
        log.flush()
        text = log_path.read_text()
        result["server_tracebacks"] = text.count("Traceback")
        result["server_warnings"] = sorted(
            {line.split(": ", 1)[-1][:160] for line in text.splitlines() if " WARNING " in line}
        )[:20]
        return result
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


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
) -> dict[str, Any]:
    baseline = run_baseline(clients, rounds, procs, inflight)
    parley = run_parley(
        clients, rounds, procs, inflight, heartbeat_s=heartbeat_s, idle_timeout_s=idle_timeout_s, hold_s=hold_s
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
        },
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
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--profile", type=Path, help="run Parley alone under cProfile and write its profile here (no baseline)"
    )
    args = parser.parse_args(argv)
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
    print(f"  ratios   {row['ratios']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=2) + "\n")
    print(f"  written to {args.out}")
    return 0
