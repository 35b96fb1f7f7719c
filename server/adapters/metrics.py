"""Every Prometheus metric Parley exposes, defined once, and their text for ``GET /metrics``.

Multiprocess mode: when ``PARLEY_METRICS_DIR`` names a folder when this module is first imported,
each process (uvicorn workers, several ``parley serve`` processes, Celery workers on the same
machine) writes its values into files there, and ``/metrics`` in any of them sums them all
(prometheus-client's multiprocess mode). ``parley serve`` and ``parley worker`` set it (default
``DATA_DIR/metrics``) before anything imports this module; a process that does not (an application
built in a test) keeps its values in memory and shows only its own.

The live session's hot path pays one increment per fan-out round, not per socket: see the
``observe_*`` helpers, which the websocket code calls in one line each.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

METRICS_DIR_ENV = "PARLEY_METRICS_DIR"
_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # what prometheus-client reads, once, at its import
_directory = os.environ.get(METRICS_DIR_ENV, "")
if _directory:
    os.environ[_MULTIPROC_ENV] = _directory
    Path(_directory).mkdir(parents=True, exist_ok=True)  # every value opens its file as it is created

from prometheus_client import (  # noqa: E402 - the multiprocess folder must be chosen before this import
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

MULTIPROCESS = bool(_directory)

# --- the live session ---------------------------------------------------------------------------

CONNECTIONS = Gauge(
    "parley_ws_connections",
    "Live websocket connections attached to a feed now.",
    multiprocess_mode="livesum",
)
JOINS = Counter("parley_ws_joins_total", "Websockets that joined: snapshot or replay sent, live from then on.")
JOIN_SECONDS = Histogram(
    "parley_ws_join_seconds",
    "From the accepted handshake to live (presence opened, feeds attached, snapshot or replay sent).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
TRY_AGAIN_CLOSES = Counter(
    "parley_ws_try_again_closes_total", "Sockets closed with 1013 (server busy, try again later) while joining."
)
IDLE_CLOSES = Counter("parley_ws_idle_closes_total", "Sockets closed for not answering heartbeats (4408).")
RESYNCS = Counter(
    "parley_ws_resyncs_total",
    "Sockets told to reload a snapshot: slow consumer, bus reset or feed restart (server), "
    "or a resume that could not be replayed (epoch_changed, history_exhausted).",
    ["reason"],
)
EVENTS_PUBLISHED = Counter("parley_events_published_total", "Event frames published on the bus after their commit.")
EVENTS_DELIVERED = Counter(
    "parley_events_delivered_total",
    "Event frames handed to sockets by the fan-out (written or queued), one per socket.",
)
FANOUT_SECONDS = Histogram(
    "parley_fanout_seconds",
    "One fan-out round: from a feed receiving an event to the frame handed to every socket of that feed.",
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
FEED_RESTARTS = Counter("parley_feed_restarts_total", "Feeds that stopped and subscribed again.")
OUTBOX_FRAMES = Gauge(
    "parley_ws_outbox_frames",
    "Frames waiting in the sockets' outboxes, summed over the sockets (sampled every heartbeat).",
    multiprocess_mode="livesum",
)
OUTBOX_LONGEST = Gauge(
    "parley_ws_outbox_longest_frames",
    "The longest outbox of one socket (sampled every heartbeat).",
    multiprocess_mode="livemax",
)
JOB_FAILURES = Counter("parley_periodic_job_failures_total", "Runs of a periodic job that raised.", ["job"])
JOB_SKIPS = Counter(
    "parley_periodic_job_skipped_total", "Ticks of a periodic job missed: its previous run was still going.", ["job"]
)

# --- Celery ---------------------------------------------------------------------------------------

CELERY_TASKS = Counter(
    "parley_celery_tasks_total",
    "Celery task runs by task name and outcome (success, failure, retry).",
    ["task", "outcome"],
)

for _reason in ("server", "epoch_changed", "history_exhausted"):
    RESYNCS.labels(reason=_reason)  # shown as 0 before the first one


def declare_job(name: str) -> None:
    """A periodic job's series, shown as 0 from its start (an absent series hides a first failure from rate())."""
    JOB_FAILURES.labels(job=name)
    JOB_SKIPS.labels(job=name)


def observe_fanout(sockets: int, seconds: float) -> None:
    """One fan-out round of one event to ``sockets`` sockets."""
    EVENTS_DELIVERED.inc(sockets)
    FANOUT_SECONDS.observe(seconds)


def observe_outboxes(lengths: Iterable[int]) -> None:
    total = longest = 0
    for length in lengths:
        total += length
        longest = max(longest, length)
    OUTBOX_FRAMES.set(total)
    OUTBOX_LONGEST.set(longest)


# --- exposition -------------------------------------------------------------------------------------


def registry() -> CollectorRegistry:
    """What to expose: every process's values in multiprocess mode, this process's otherwise."""
    if MULTIPROCESS:
        summed = CollectorRegistry()
        multiprocess.MultiProcessCollector(summed)  # type: ignore[no-untyped-call]
        return summed
    return REGISTRY


def exposition() -> tuple[bytes, str]:
    """The text format and its content type."""
    return generate_latest(registry()), CONTENT_TYPE_LATEST


def serve_on_port(host: str, port: int) -> None:
    """A plain HTTP exporter in a background thread (a Celery worker on a machine of its own)."""
    start_http_server(port, addr=host, registry=registry())


def process_stopped(pid: int) -> None:
    """Drop a stopped process's live gauges (its connections, its outboxes); counters stay summed."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
