"""Periodic jobs that keep their rhythm: ticks at fixed instants, a run never piles up on another.

A job runs as its own task at ``start + k * period``. At a tick where the previous run has not
finished (a database that does not answer, a pool exhausted by a join storm), the tick is skipped
instead of queued: the job skips a beat. A job whose work grows with the number of sockets (the
presence counts, the session checks) also rests after each run for ``1 / max_share - 1`` times what
the run took: at 10,000 sockets they would otherwise take most of the process's time, every beat.
A job that fails or overruns says so once, when the trouble starts, and once more when it is
over (with the number of beats it missed), instead of a traceback every beat. The counters are
what the shutdown figures report (``LiveRuntime.figures``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from server.adapters import metrics

log = logging.getLogger("parley.live")


class PeriodicJob:
    def __init__(
        self, name: str, seconds: float, job: Callable[[], Awaitable[None]], *, max_share: float = 1.0
    ) -> None:
        self.name = name
        self.seconds = seconds
        self.job = job
        self.max_share = max_share  # of the process's time this job may take, over a run and its rest
        metrics.declare_job(name)
        self.rested = 0  # ticks skipped to keep to that share
        self._rest_until = 0.0
        self.runs = 0
        self.failures = 0  # runs that raised
        self.skipped = 0  # ticks missed because the previous run was still going
        self._troubled = 0  # beats missed or failed since the trouble began; 0: all is well
        self._run: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"periodic-{self.name}")

    async def stop(self) -> None:
        for task in (self._task, self._run):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self.seconds
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            now = loop.time()
            # the next tick on the grid, however late this one woke up (a busy loop): no catching up
            behind = int((now - next_at) // self.seconds) if now > next_at else 0
            next_at += (behind + 1) * self.seconds
            self.skipped += behind  # a busy loop woke us late: counted, not worth a warning each time
            if self._run is not None and not self._run.done():
                self.skipped += 1
                metrics.JOB_SKIPS.labels(job=self.name).inc()
                self._trouble("its previous run has not finished (database slow or unreachable?)")
                continue
            if now < self._rest_until:
                self.rested += 1
                continue
            self._run = asyncio.create_task(self._once(), name=f"job-{self.name}")

    async def _once(self) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            await self.job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failing job (database briefly down) must not stop the others
            self.failures += 1
            metrics.JOB_FAILURES.labels(job=self.name).inc()
            if not self._troubled:
                log.warning("periodic job %s failed, skipping this beat: %s: %s", self.name, type(exc).__name__, exc)
                log.debug("periodic job %s failure", self.name, exc_info=True)
            self._troubled += 1
            return
        self.runs += 1
        self._rest_until = loop.time() + (loop.time() - began) * (1 / self.max_share - 1)
        if self._troubled:
            log.warning("periodic job %s is back on time after %d missed beats", self.name, self._troubled)
            self._troubled = 0

    def _trouble(self, why: str) -> None:
        if not self._troubled:
            log.warning("periodic job %s skips a beat: %s", self.name, why)
        self._troubled += 1
