"""Reminder offsets: how long before a morning starts a reminder goes, written "24h", "45m" or "1h30m"."""

from __future__ import annotations

import re

_OFFSET_RE = re.compile(r"^(?:(\d{1,3})h)?(?:(\d{1,4})m)?$")
MAX_REMINDER_MINUTES = 14 * 24 * 60


def parse_offset(text: str) -> int:
    """``"24h"``, ``"15m"``, ``"1h30m"`` -> minutes; ValueError when it is not one."""
    match = _OFFSET_RE.match(text.strip())
    if match is None or not (match[1] or match[2]):
        raise ValueError(f'"{text}" is not a duration like "24h", "45m" or "1h30m"')
    minutes = int(match[1] or 0) * 60 + int(match[2] or 0)
    if not 0 < minutes <= MAX_REMINDER_MINUTES:
        raise ValueError(f'"{text}" must be between 1 minute and 14 days')
    return minutes


def format_offset(minutes: int) -> str:
    """The inverse of `parse_offset`, canonical: 1440 -> "24h", 90 -> "1h30m", 15 -> "15m"."""
    hours, rest = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{rest}m" if rest or not hours else "")
