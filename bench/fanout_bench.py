"""Fan-out of one live event to many websocket clients: Parley against a raw websockets.broadcast().

Both servers run as subprocesses on this machine; the clients are spread over a few processes.
Each round, one event goes out (a moderator's `notice.set` for Parley, a 300-byte broadcast for the
baseline); every client records when it arrived. Printed: per-round delivery latency p50/p99 to
all clients, server memory per connection, and Parley's ratio to the baseline from the same run.

    python -m bench fanout --clients 2000 --rounds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


# --- clients (run in worker processes) ---------------------------------------------------------------


async def _clients(
    url: str, tokens: list[str], origin: str, marker: str, rounds: int, out: multiprocessing.Queue
) -> None:
    import websockets

    received: dict[int, list[float]] = {r: [] for r in range(rounds)}
    ready = retries = 0

    async def one(token: str | None) -> None:
        nonlocal ready, retries
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        while True:
            try:
                await session(headers)
                return
            except websockets.ConnectionClosedError as exc:
                if exc.rcvd is None or exc.rcvd.code != 1013:
                    raise
                retries += 1  # "try again later", as a browser does: back off and reconnect
                await asyncio.sleep(random.uniform(0.5, 2.0))

    async def session(headers: dict[str, str]) -> None:
        nonlocal ready
        async with websockets.connect(
            url, additional_headers=headers, origin=origin, max_size=2**23, ping_interval=None, open_timeout=120
        ) as ws:
            seen = 0
            async for raw in ws:
                if isinstance(raw, bytes):
                    raw = raw.decode()
                if '"snapshot"' in raw[:40] or raw == "hello":
                    ready += 1
                    continue
                if '"heartbeat"' in raw[:30]:
                    await ws.send('{"type":"ping","cid":"hb"}')
                    continue
                at = raw.find(marker)
                if at >= 0:
                    round_ = int(raw[at + len(marker) : at + len(marker) + 6])
                    received[round_].append(time.time())
                    seen += 1
                    if seen == rounds:
                        return

    tasks = [asyncio.create_task(one(t)) for t in tokens]
    while ready < len(tokens):
        await asyncio.sleep(0.05)
        if any(t.done() and t.exception() for t in tasks):
            raise next(t.exception() for t in tasks if t.done() and t.exception())  # type: ignore[misc]
    out.put(("ready", retries))
    await asyncio.wait(tasks, timeout=rounds * 10 + 60)
    out.put(("done", received))


def client_process(
    url: str, tokens: list[str], origin: str, marker: str, rounds: int, out: multiprocessing.Queue
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
    asyncio.run(_clients(url, tokens, origin, marker, rounds, out))


def run_clients(url: str, tokens: list[str | None], origin: str, marker: str, rounds: int, procs: int):  # noqa: ANN201
    out: multiprocessing.Queue = multiprocessing.Queue()
    chunks = [tokens[i::procs] for i in range(procs)]
    workers = [
        multiprocessing.Process(target=client_process, args=(url, chunk, origin, marker, rounds, out), daemon=True)
        for chunk in chunks
        if chunk
    ]
    started = time.monotonic()
    for w in workers:
        w.start()
    retries = 0
    for _ in workers:
        kind, n = out.get(timeout=600)
        assert kind == "ready", "a client process ended before all its clients had joined"
        retries += n
    print(
        f"  {len(tokens)} clients connected and joined in {time.monotonic() - started:.1f} s"
        f" ({retries} told to try again)"
    )
    return workers, out


def collect(workers: list, out: multiprocessing.Queue, rounds: int) -> dict[int, list[float]]:
    merged: dict[int, list[float]] = {r: [] for r in range(rounds)}
    for _ in workers:
        kind, received = out.get(timeout=rounds * 10 + 120)
        for r, times in received.items():
            merged[r].extend(times)
    for w in workers:
        w.join(10)
    return merged


def summarise(name: str, sent: dict[int, float], received: dict[int, list[float]], clients: int) -> float:
    """Print per-round stats; return the median over rounds of the time to reach the last client."""
    lasts, p99s, p50s = [], [], []
    for r, t0 in sent.items():
        lat = sorted((t - t0) * 1000 for t in received[r])
        if len(lat) < clients:
            print(f"  {name}: round {r}: only {len(lat)}/{clients} clients received it")
        if not lat:
            continue
        p50s.append(lat[len(lat) // 2])
        p99s.append(lat[min(len(lat) - 1, int(len(lat) * 0.99))])
        lasts.append(lat[-1])
    print(
        f"  {name:9s} p50 {statistics.median(p50s):7.1f} ms   p99 {statistics.median(p99s):7.1f} ms   "
        f"all {statistics.median(lasts):7.1f} ms   (medians over {len(sent)} rounds)"
    )
    return statistics.median(p99s)


# --- baseline: raw websockets.broadcast -----------------------------------------------------------------

BASELINE_SERVER = r"""
import asyncio, sys, time, websockets
clients = set()
async def handler(ws):
    clients.add(ws)
    await ws.send("hello")
    try:
        await ws.wait_closed()
    finally:
        clients.discard(ws)
async def control(reader):
    pass
async def main():
    async with websockets.serve(handler, "127.0.0.1", int(sys.argv[1]), compression=None, max_queue=None):
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            websockets.broadcast(clients, line.strip())
            print("sent", flush=True)
asyncio.run(main())
"""


def baseline(clients: int, rounds: int, procs: int) -> float:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", BASELINE_SERVER, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        wait_port(port)
        before = rss_kib(server.pid)
        workers, out = run_clients(
            f"ws://127.0.0.1:{port}/", [None] * clients, f"http://127.0.0.1:{port}", "@@R", rounds, procs
        )
        per_conn = (rss_kib(server.pid) - before) / clients
        sent = {}
        for r in range(rounds):
            time.sleep(0.5)
            payload = f"@@R{r:06d}" + "x" * 290
            sent[r] = time.time()
            assert server.stdin is not None and server.stdout is not None
            server.stdin.write(payload + "\n")
            server.stdin.flush()
            server.stdout.readline()
        received = collect(workers, out, rounds)
        print(f"  baseline  server memory {per_conn:.1f} KiB per connection")
        return summarise("baseline", sent, received, clients)
    finally:
        server.kill()


# --- Parley ---------------------------------------------------------------------------------------------


def parley(clients: int, rounds: int, procs: int) -> float:
    import httpx

    data = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        PARLEY_DATA_DIR=str(data),
        PARLEY_SECRET_KEY="bench",
        PARLEY_HOST="127.0.0.1",
        PARLEY_PORT=str(port),
        PARLEY_LOG_LEVEL="warning",
        PARLEY_EMBEDDED_WORKER="false",
        PYTHONPATH=str(ROOT),
    )
    subprocess.run([sys.executable, "-m", "server.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    log = (data / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_port(port)
        from tests.fixtures.people import seed_attendees

        tokens: list[str | None] = list(seed_attendees(f"sqlite:///{data / 'parley.db'}", clients))
        link = next(
            line.split("/signin/")[1].strip()
            for line in (data / "server.log").read_text().splitlines()
            if line.startswith("moderator ")
        )
        mod_token = httpx.post(f"http://127.0.0.1:{port}/api/auth/link", json={"token": link}).json()["session_token"]

        before = rss_kib(server.pid)
        url = f"ws://127.0.0.1:{port}/ws/events/idm-2022-1"
        workers, out = run_clients(url, tokens, f"http://127.0.0.1:{port}", "@@R", rounds, procs)
        per_conn = (rss_kib(server.pid) - before) / clients
        sent = asyncio.run(_moderate(url, mod_token, f"http://127.0.0.1:{port}", rounds))
        received = collect(workers, out, rounds)
        print(f"  parley    server memory {per_conn:.1f} KiB per connection")
        log.flush()
        errors = (data / "server.log").read_text().count("Traceback")
        if errors:
            print(f"  parley    server log: {errors} tracebacks (a run with errors does not count)")
        return summarise("parley", sent, received, clients)
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(data, ignore_errors=True)


async def _moderate(url: str, token: str, origin: str, rounds: int) -> dict[int, float]:
    import websockets

    sent = {}
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}, origin=origin) as ws:
        await ws.recv()
        for r in range(rounds):
            await asyncio.sleep(0.5)
            sent[r] = time.time()
            await ws.send(json.dumps({"type": "notice.set", "cid": f"n{r}", "text": f"@@R{r:06d} " + "x" * 200}))
    return sent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench fanout", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    args = parser.parse_args(argv)
    print(
        f"fan-out: {args.clients} clients, {args.rounds} rounds, {args.procs} client processes, {os.cpu_count()} cores"
    )
    base = baseline(args.clients, args.rounds, args.procs)
    ours = parley(args.clients, args.rounds, args.procs)
    print(f"  ratio     parley p99 / baseline p99 = {ours / base:.2f} (target 1.25)")


if __name__ == "__main__":
    main()
