"""Verification codes: 20 characters of Crockford's base32 (100 random bits), shown in four groups
of five (``7KQ2M-...``). Random and stored, not derived from a secret: a code stays valid when the
secret key is rotated, and nothing about the attendee can be read from it.

People type codes from paper, so reading one forgives what Crockford's alphabet forgives: case,
spaces and hyphens, ``O`` for ``0``, ``I`` and ``L`` for ``1``. Anything else is malformed, which the
verification answers exactly like an unknown code.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 20
GROUP = 5
BITS = LENGTH * 5
MAX_INPUT = 64
"""Longer input is not a code, whatever it holds: refused before any work."""
_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    """A fresh code, as stored (no hyphens)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(text: str) -> str | None:
    """The stored form of a typed code, or None when it cannot be one."""
    if len(text) > MAX_INPUT:
        return None
    compact = "".join(text.split()).replace("-", "").upper().translate(_FOLD)
    if len(compact) != LENGTH or any(char not in ALPHABET for char in compact):
        return None
    return compact


def display(code: str) -> str:
    """``ABCDE-FGHJK-MNPQR-STVWX``: how a code is printed and linked."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))
