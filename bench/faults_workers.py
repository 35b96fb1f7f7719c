"""Worker faults for ``python -m bench faults``: a reminders worker killed mid-send, a reports worker
killed mid-report. Each scenario: mails due, received, duplicated, missing; reports compiled and
whether every file is whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SCENARIOS: dict[str, Callable[[int], dict[str, Any]]] = {}


def run_bounded(name: str, scenario: Callable[[int], dict[str, Any]], mails: int) -> dict[str, Any]:
    try:
        return scenario(mails)
    except Exception as exc:  # a broken scenario is reported, the others still run
        return {"scenario": name, "fault": name, "error": f"{type(exc).__name__}: {exc}"}
