"""Reminder mail throughput on the embedded default: ``parley worker --pool=solo`` on the SQLite broker
and SQLite database (what ``parley serve`` runs beside itself), sending over SMTP to a real server
(aiosmtpd, ``tests/fixtures/smtp.py``).

N attendees are registered for a copy of the shipped programme; one scan at the instant of their
24-hour reminder hands every delivery out, and the clock runs from enqueueing that scan until the
SMTP server holds all N messages and every row is recorded ``sent``. Printed: mails per second,
the SMTP sessions the server saw, copies received more than once (must be 0) and the rows' states.

    python -m bench mail --deliveries 1000
    python -m bench mail --deliveries 1000 --batch 1          # one delivery per task (the old shape)
    python -m bench mail --deliveries 300 --profile /tmp/worker.prof   # cProfile of the worker
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

SLUG = "mail-bench-2031"
DAY = date(2031, 3, 3)


def add_attendees(database_url: str, event_id: int, count: int) -> None:
    from sqlalchemy import create_engine, insert

    from server.adapters.db.models import Registration

    engine = create_engine(database_url.replace("+aiosqlite", ""))
    created = datetime(2030, 1, 1, tzinfo=UTC)
    rows = [
        {
            "event_id": event_id,
            "name": f"Attendee {n:05d}",
            "email": f"attendee{n:05d}@example.org",
            "category": "member_state",
            "language": ("fr", "en", "es")[n % 3],
            "timezone": ("Africa/Dakar", None, "Europe/Madrid")[n % 3],
            "join_nonce": f"bench{n}",
            "created_at": created,
        }
        for n in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Registration), rows)
    engine.dispose()


def wait_until_sent(settings: Any, box: Any, count: int, timeout: float) -> float:
    """Poll until the server holds ``count`` messages and no row is left to send; the instant of that."""
    from sqlalchemy import create_engine, func, select

    from server.adapters.db.models import ReminderDelivery

    engine = create_engine(settings.sync_database_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            # only this event's mails arrive: counting them costs nothing, where ``for_event`` parses
            # every message's headers under the server's lock (and would slow the server down)
            if len(box.received) >= count:
                done = time.monotonic()
                with engine.connect() as conn:
                    left = conn.scalar(select(func.count()).where(ReminderDelivery.status.in_(("pending", "sending"))))
                if not left:
                    return done
            time.sleep(0.02)
    finally:
        engine.dispose()
    raise TimeoutError(f"{len(box.received)} of {count} mails after {timeout:.0f} s")


def run(deliveries: int, batch: int | None, profile: Path | None, timeout: float, keep: bool) -> dict[str, Any]:
    from sqlalchemy import create_engine, select

    from server.adapters.db.models import ReminderDelivery
    from tests.fixtures.celery import TaskClient, WorkerProcess, build_world
    from tests.fixtures.parley import Parley, migrated_sqlite
    from tests.fixtures.smtp import Mailbox, smtp_env

    root = Path(tempfile.mkdtemp(prefix="parley-mail-bench-"))
    data_dir = root / "data"
    box = Mailbox()
    box.controller.start()
    worker: Any = None
    client: Any = None
    try:
        env = smtp_env(box)
        if batch is not None:
            env["PARLEY_MAIL_BATCH"] = str(batch)
        parley = Parley("sqlite", data_dir, migrated_sqlite(data_dir), extra_env=env)
        settings = parley.settings()
        world = build_world(settings, SLUG, DAY, [])
        add_attendees(parley.database_url, world.event_id, deliveries)
        if profile is not None:
            worker = ProfiledWorker(parley, profile)
        else:
            worker = WorkerProcess(parley, "--pool=solo", name="bench")
        client = TaskClient(settings)
        now = world.starts[0] - timedelta(hours=24) + timedelta(seconds=5)
        began = time.monotonic()
        scan = client.run("parley.reminders.scan", timeout, now=now.isoformat())
        scanned = time.monotonic()
        finished = wait_until_sent(settings, box, deliveries, timeout)
        elapsed = finished - began
        received = box.for_event(SLUG)
        copies = Counter(m.to for m in received)
        engine = create_engine(settings.sync_database_url)
        with engine.connect() as conn:
            states = Counter(conn.scalars(select(ReminderDelivery.status)))
        engine.dispose()
        return {
            "deliveries": deliveries,
            "batch": batch if batch is not None else "default",
            "tasks_enqueued": len(scan["tasks"]),
            "scan_s": round(scanned - began, 2),
            "seconds": round(elapsed, 2),
            "mails_per_s": round(deliveries / elapsed, 1),
            "smtp_sessions": len({m.session for m in received}),
            "received": len(received),
            "duplicated": sum(n - 1 for n in copies.values()),
            "rows": dict(states),
        }
    finally:
        if worker is not None:
            worker.stop()
        if client is not None:
            client.close()
        box.release_all()
        box.controller.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


class ProfiledWorker:
    """``parley worker --pool=solo`` under cProfile (the solo pool runs tasks in the profiled process);
    a warm shutdown (SIGTERM) lets cProfile write its file."""

    def __init__(self, parley: Any, output: Path) -> None:
        from tests.fixtures.parley import ROOT

        self.log = parley.data_dir / "worker-profiled.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cProfile", "-o", str(output), "-m", "server.cli", "worker", "--pool=solo"]
            + ["--without-mingle", "--without-gossip", "--without-heartbeat"],
            env=parley.env(),
            cwd=str(ROOT),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while " ready." not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"profiled worker did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench mail", description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=1000, help="attendees, so many reminders (1000)")
    parser.add_argument("--batch", type=int, default=None, help="PARLEY_MAIL_BATCH for the worker (its default)")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the worker here")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for every mail (600)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args(argv)
    if args.deliveries < 1:
        parser.error("--deliveries must be at least 1")
    if args.batch is not None and args.batch < 1:
        parser.error("--batch must be at least 1")
    result = run(args.deliveries, args.batch, args.profile, args.timeout, args.keep)
    print(json.dumps(result, indent=2))
    print(
        f"{result['deliveries']} reminders in {result['seconds']} s: {result['mails_per_s']} mails/s"
        f" ({result['tasks_enqueued']} send tasks, {result['smtp_sessions']} SMTP sessions,"
        f" {result['duplicated']} duplicated)"
    )
    return 0 if result["duplicated"] == 0 and result["received"] == result["deliveries"] else 1
