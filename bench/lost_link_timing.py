"""``python -m bench.lost_link_timing [N]``: how long "I lost my link" takes to answer for registered
and for unknown addresses, interleaved, in one process (SQLite, the application in-process).

The answer must not tell the two apart; this measures what is left of the difference (the queueing
of one delivery row for a registered address). Prints the median and 90th percentile of each, in ms.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from starlette.testclient import TestClient

from config.settings import Settings
from server.app import create_app
from tests.fixtures.celery import build_world
from tests.fixtures.parley import migrated_sqlite

SLUG = "bench-lost-link"


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 200
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        settings = Settings(
            _env_file=None,
            data_dir=data_dir,
            database_url=migrated_sqlite(data_dir),
            secret_key="bench-secret-key-not-for-production",
            embedded_worker=False,
            lost_link_max_per_email=1000,
            lost_link_max_per_address=100000,
        )
        build_world(settings, SLUG, date(2031, 3, 3), [])  # the shipped programme, copied
        with TestClient(create_app(settings)) as http:
            for i in range(n):
                body = {"name": f"Person {i}", "email": f"known{i}@example.org", "category": "other"}
                assert http.post(f"/api/events/{SLUG}/registrations", json=body).status_code == 201
            times: dict[str, list[float]] = {"registered": [], "unknown": []}
            for i in range(n):
                for kind, address in (("registered", f"known{i}@example.org"), ("unknown", f"nobody{i}@example.org")):
                    start = time.perf_counter()
                    answer = http.post(f"/api/events/{SLUG}/lost-link", json={"email": address})
                    times[kind].append((time.perf_counter() - start) * 1000)
                    assert answer.status_code == 202
    for kind, values in times.items():
        values.sort()
        print(f"{kind:>10}: median {statistics.median(values):.2f} ms, p90 {values[int(0.9 * len(values))]:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
