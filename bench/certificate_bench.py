"""Certificate benchmark: the report benchmark's 10,000 attendees over the three mornings of the
shipped IDM 2022 programme, then every scope's certificates issued as the worker does (the report
built, the rows written, the zip rebuilt), one scope after the other, and an attendee's own PDF drawn
as the server does on request.

It answers where the zip is built: issuing takes seconds to tens of seconds at this size, far beyond
what a request may hold, so the worker builds it and the server only reads the file; one attendee's
PDF is a millisecond or two, so it is drawn on request.

    python -m bench certificates
    python -m bench certificates --attendees 2000 --keep
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bench.report_bench import generate

NOW = datetime(2022, 3, 10, tzinfo=UTC)
BASE_URL = "https://parley.example.org"


def peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench certificates", description=__doc__.split("\n\n")[0])
    parser.add_argument("--attendees", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print it")
    args = parser.parse_args(argv)

    from config.settings import Settings
    from server.adapters.db.models import Certificate, Day
    from server.services import certificates, reports
    from server.services.attendance import presence_stale_after
    from server.services.certificates import bundle
    from server.services.certificates.pdf import render
    from server.services.certificates.service import printed

    defaults = Settings.model_fields
    stale_after = presence_stale_after(
        heartbeat_s=defaults["heartbeat_s"].default, idle_timeout_s=defaults["idle_timeout_s"].default
    )
    folder = Path(tempfile.mkdtemp(prefix="parley-certificate-bench-"))
    try:
        started = time.perf_counter()
        event_id, sizes = generate(folder, args.attendees, args.seed)
        print(
            f"generated in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in sizes.items())
        )
        engine = create_engine(f"sqlite:///{folder / 'parley.db'}")
        data_dir = folder / "data"
        with Session(engine) as session:
            days = [d.isoformat() for d in session.execute(select(Day.date).where(Day.event_id == event_id)).scalars()]
        print(
            f"{'scope':<18}{'report s':>10}{'issue s':>10}{'certificates':>14}{'drawn':>8}"
            f"{'zip MiB':>10}{'peak MiB':>10}"
        )
        for scope in [*sorted(days), "event"]:
            t0 = time.perf_counter()
            with reports.service.read_session(engine) as session:
                reports.build(session, event_id, scope, now=NOW, stale_after=stale_after, threshold=0.5)
            built = time.perf_counter() - t0
            t0 = time.perf_counter()
            issued = certificates.issue(
                engine, data_dir, event_id, scope, now=NOW, stale_after=stale_after, threshold=0.5, base_url=BASE_URL
            )
            took = time.perf_counter() - t0
            size = issued.zip.stat().st_size / 2**20
            print(
                f"{scope:<18}{built:>10.2f}{took:>10.2f}{issued.count:>14,}{issued.drawn:>8,}{size:>10.1f}{peak_mib():>10.1f}"
            )
        t0 = time.perf_counter()
        again = certificates.issue(
            engine, data_dir, event_id, days[0], now=NOW, stale_after=stale_after, threshold=0.5, base_url=BASE_URL
        )
        print(
            f"{days[0] + ' again':<18}{'':>10}{time.perf_counter() - t0:>10.2f}{again.count:>14,}{again.drawn:>8,}"
            "  (nothing new: codes kept, same bytes)"
        )

        with Session(engine) as session:
            rows = [printed(c) for c in session.execute(select(Certificate).limit(300)).scalars()]
        timings = []
        for row in rows:
            t0 = time.perf_counter()
            render(row, certificates.verify_url(BASE_URL, row.code))
            timings.append((time.perf_counter() - t0) * 1000)
        with zipfile.ZipFile(bundle.zip_path(data_dir, "idm-2022-1")) as z:
            entries = len(z.namelist())
        print(
            f"one attendee's PDF on request: median {statistics.median(timings):.1f} ms, "
            f"max {max(timings):.1f} ms over {len(timings)}; the zip holds {entries:,} entries"
        )
        engine.dispose()
        return 0
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
