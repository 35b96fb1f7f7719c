"""Worker faults for ``python -m bench faults``.

- reminders: production's shape (PostgreSQL, a private redis-server as broker, ``parley worker``
  with the solo pool, a real SMTP server). A scan enqueues the reminders due; one send stalls at the
  SMTP server after it has the message but before it answers 250, and the worker is SIGKILLed right
  then. A second worker takes the queued sends; a scan after the claims' lease retakes the one the
  dead worker held. Counted: mails due, received, duplicated, missing.
- reports: the embedded broker (SQLite). A compile is sent and its worker SIGKILLed as soon as a
  report file is being written; a new worker compiles again. Counted: reports compiled, files whole
  (every zip readable, the PDF ending in %%EOF), temporary files left behind.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.fixtures.bus import PrivateRedis
from tests.fixtures.parley import Parley, free_port, migrated_sqlite
from tests.fixtures.services import PostgresDatabases, pg_url


def reminders_killed_mid_send(mails: int) -> dict[str, Any]:
    from tests.fixtures.celery import Attendee, TaskClient, WorkerProcess, build_world, deliveries
    from tests.fixtures.smtp import Mailbox, smtp_env

    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not installed")
    root = Path(tempfile.mkdtemp(prefix="parley-faults-"))
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    redis = PrivateRedis(executable, free_port())
    asyncio.run(redis.start())
    dbs = PostgresDatabases()
    box = Mailbox()
    box.controller.start()
    workers: list[WorkerProcess] = []
    client: TaskClient | None = None
    slug = "faults-2034"
    try:
        dbs.build_template()
        parley = Parley(
            "postgres", data_dir, pg_url(dbs.new(), "postgresql+asyncpg"), redis_url=redis.url, extra_env=smtp_env(box)
        )
        settings = parley.settings()
        day = date(2034, 3, 7)
        people = [Attendee(f"Person {i}", f"p{i}@example.org") for i in range(mails)]
        build_world(settings, slug, day, people)
        victim = people[mails // 2].email
        stall = box.stall(victim, "DATA")  # the server has the message; its 250 is withheld
        client = TaskClient(settings)
        workers.append(WorkerProcess(parley, "--pool=solo", name="doomed"))
        start = datetime.combine(day, clock(9), tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
        now = start - timedelta(hours=24) + timedelta(seconds=5)
        due = len(client.run("parley.reminders.scan", now=now.isoformat())["enqueued"])
        if not stall.reached.wait(60):
            raise RuntimeError("the stalled send never reached the SMTP server")
        workers[-1].kill()
        killed_at = time.monotonic()
        stall.release.set()
        workers.append(WorkerProcess(parley, "--pool=solo", name="survivor"))
        deadline = time.monotonic() + 60
        while len({m.to for m in box.for_event(slug)}) < due and time.monotonic() < deadline:
            if len({m.to for m in box.for_event(slug)}) >= due - 1 and time.monotonic() - killed_at > 5:
                break  # only the dead worker's claim left: the scan after the lease takes it
            time.sleep(0.1)
        early = client.scan(now + timedelta(minutes=9))  # the claim is still live: nothing retaken
        late = client.scan(now + timedelta(minutes=10, seconds=1))
        recovered_s = time.monotonic() - killed_at
        received = box.for_event(slug)
        copies = Counter(m.to for m in received)
        identical = all(
            len({m.raw for m in received if m.to == address}) == 1 for address, n in copies.items() if n > 1
        )
        status = Counter(r.status for r in deliveries(settings, slug))
        missing = due - len(copies)
        duplicated = sum(n - 1 for n in copies.values())
        return {
            "scenario": "reminders-killed-mid-send",
            "fault": "worker SIGKILLed mid-send (reminders; message at the SMTP server, 250 not yet read)",
            "mails_due": due,
            "received": len(received),
            "duplicated": duplicated,
            "duplicates_identical": identical,
            "missing": missing,
            "retaken_before_lease_end": len(early),
            "retaken_after_lease": len(late),
            "delivery_rows": dict(status),
            "seconds_to_complete": round(recovered_s, 1),
            "summary": (
                f"{due} mails due, {len(received)} received, {duplicated} duplicated"
                f" ({'byte-identical, same Message-ID' if identical else 'DIFFERENT copies'}), {missing} missing;"
                f" the dead worker's claim retaken by the scan after the lease (10 min of claim time)"
            ),
            "user_sees": (
                "every attendee gets the reminder; the one being sent at the kill gets it twice, identical"
                if duplicated and identical and not missing
                else "every attendee gets the reminder once"
                if not duplicated and not missing
                else f"{missing} attendees never get the reminder"
            ),
        }
    finally:
        for worker in workers:
            worker.stop()
        if client is not None:
            client.close()
        box.release_all()
        box.controller.stop()
        redis.kill()
        dbs.drop_all()
        shutil.rmtree(root, ignore_errors=True)


def _whole(path: Path) -> bool:
    data = path.read_bytes()
    if path.name.endswith(".pdf"):
        return data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    if path.name.endswith((".zip", ".xlsx")):
        try:
            with zipfile.ZipFile(path) as archive:
                return archive.testzip() is None
        except zipfile.BadZipFile:
            return False
    return True


def reports_killed_mid_report(_: int) -> dict[str, Any]:
    from server.adapters.db.engine import make_sync_engine
    from tests.fixtures.celery import TaskClient, WorkerProcess
    from tests.test_reports import build_scenario

    root = Path(tempfile.mkdtemp(prefix="parley-faults-"))
    data_dir = root / "data"
    parley = Parley("sqlite", data_dir, migrated_sqlite(data_dir))
    engine = make_sync_engine(parley.settings())
    workers: list[WorkerProcess] = []
    client = TaskClient(parley.settings())
    try:
        scenario = build_scenario(engine)
        folder = data_dir / "reports" / "report-test"
        workers.append(WorkerProcess(parley, "--pool=solo", name="doomed"))
        client.send("parley.reports.compile", event_id=scenario.event_id, scope="event")
        deadline = time.monotonic() + 30
        caught_writing = False
        while time.monotonic() < deadline:
            if folder.exists() and any(p.name.endswith(".tmp") for p in folder.iterdir()):
                caught_writing = True
                break
            time.sleep(0.002)
        workers[-1].kill()
        after_kill = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
        whole_after_kill = all(_whole(folder / name) for name in after_kill if not name.endswith(".tmp"))
        workers.append(WorkerProcess(parley, "--pool=solo", name="survivor"))
        done = client.run("parley.reports.compile", timeout=60, event_id=scenario.event_id, scope="event")
        files = sorted(p for p in folder.iterdir() if not p.name.endswith(".tmp"))
        whole = all(_whole(p) for p in files)
        leftovers = [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
        return {
            "scenario": "reports-killed-mid-report",
            "fault": "worker SIGKILLed mid-report (reports, embedded broker)",
            "killed_while_writing": caught_writing,
            "files_after_kill": after_kill,
            "whole_after_kill": whole_after_kill,
            "compiled_after_restart": bool(done.get("complete")),
            "formats": sorted(done.get("files", [])),
            "files_whole": whole,
            "temp_files_left": leftovers,
            "summary": (
                f"killed {'while a file was being written' if caught_writing else 'mid-task'};"
                f" files readable after the kill: {'all whole' if whole_after_kill else 'A TORN FILE'};"
                f" compiled again by the next worker: {'complete' if done.get('complete') else 'NOT complete'},"
                f" every file whole: {'yes' if whole else 'NO'}; temporary files left: {len(leftovers)}"
            ),
            "user_sees": (
                "the download is the previous whole file or none, then the complete report"
                if whole and whole_after_kill
                else "a torn report file"
            ),
        }
    finally:
        client.close()
        for worker in workers:
            worker.kill()
        engine.dispose()
        shutil.rmtree(root, ignore_errors=True)


SCENARIOS: dict[str, Callable[[int], dict[str, Any]]] = {
    "reminders-killed-mid-send": reminders_killed_mid_send,
    "reports-killed-mid-report": reports_killed_mid_report,
}


def run_bounded(name: str, scenario: Callable[[int], dict[str, Any]], mails: int) -> dict[str, Any]:
    try:
        return scenario(mails)
    except Exception as exc:  # a broken scenario is reported, the others still run
        return {"scenario": name, "fault": name, "error": f"{type(exc).__name__}: {exc}"}
