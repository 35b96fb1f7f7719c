"""Which language to use: one rule for the server and the browser.

The interface languages and the fallback order are data, ``frontend/i18n/languages.json``, read
here and by ``frontend/js/languages.js``; both implement the same ``pick_language``, and
``tests/test_i18n.py`` runs the two on the same inputs. The rule:

1. the first wanted language that is available, matched exactly (``pt-BR``) or by its primary
   language (``fr-CA`` wants ``fr``), without regard to case;
2. else the first language of the fallback order that is available;
3. else the first available language (a programme text's first language is its event's first);
4. else None: nothing is available.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LANGUAGES_FILE = Path(__file__).resolve().parents[2] / "frontend" / "i18n" / "languages.json"


def _load() -> tuple[tuple[str, ...], tuple[str, ...]]:
    data: dict[str, Any] = json.loads(LANGUAGES_FILE.read_text(encoding="utf-8"))
    interface = tuple(str(code) for code, _name in data["interface"])
    fallback = tuple(str(code) for code in data["fallback"])
    return interface, fallback


# read once at import: a small file that ships with the code, never changed while running
INTERFACE_LANGUAGES, FALLBACK = _load()


def pick_language(wanted: Iterable[str | None], available: Iterable[str]) -> str | None:
    """The language of ``available`` to use for someone who wants ``wanted`` (most wanted first),
    spelled as in ``available``; None when ``available`` is empty."""
    if isinstance(wanted, str):  # one language, not its letters
        wanted = [wanted]
    have = [code for code in available if code]
    by_tag = {code.lower(): code for code in reversed(have)}  # the first spelling wins
    for tag in wanted:
        if not tag:
            continue
        tag = tag.lower()
        found = by_tag.get(tag) or by_tag.get(tag.split("-")[0])
        if found:
            return found
    for code in FALLBACK:
        if code.lower() in by_tag:
            return by_tag[code.lower()]
    return have[0] if have else None


def pick_text(texts: dict[str, Any] | None, wanted: Iterable[str | None]) -> tuple[str, str | None]:
    """A text given in several languages (``{"fr": ..., "en": ...}``) in the language to use, and
    that language; ("", None) when no language has a text."""
    texts = texts or {}
    code = pick_language(wanted, [k for k, v in texts.items() if v])
    return (str(texts[code]), code) if code is not None else ("", None)


def interface_language(wanted: Iterable[str | None]) -> str:
    """One of the interface languages (those with a catalogue and mail templates)."""
    return pick_language(wanted, INTERFACE_LANGUAGES) or FALLBACK[0]
