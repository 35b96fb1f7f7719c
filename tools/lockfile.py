"""Keep requirements.lock in step with pyproject.toml's dependencies.

``make lock`` resolves every dependency (dev included) with uv from PyPI, with hashes, and then
runs ``stamp``: it writes a digest of pyproject's dependency lists into the lock's header.
``check`` (run by ``.ci/run``) compares that digest with pyproject as it is now, so changing a
dependency without regenerating the lock fails CI with a clear message, without a network or a
resolver (a resolver would also pick up every new release on PyPI). Standard library only: it runs
before any virtualenv exists.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.lock"
MARK = "# pyproject dependencies sha256: "


def digest(pyproject: Path | None = None) -> str:
    """What the lock is resolved from: the Python range, the dependencies and the extras."""
    project = tomllib.loads((pyproject or PYPROJECT).read_text())["project"]
    inputs = {
        "requires-python": project.get("requires-python", ""),
        "dependencies": sorted(project.get("dependencies", [])),
        "optional-dependencies": {k: sorted(v) for k, v in project.get("optional-dependencies", {}).items()},
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def recorded(lock: Path | None = None) -> str | None:
    lock = lock or LOCK
    if not lock.exists():
        return None
    for line in lock.read_text().splitlines():
        if line.startswith(MARK):
            return line[len(MARK) :].strip()
        if line and not line.startswith("#"):
            break
    return None


def stamp(lock: Path | None = None) -> None:
    lock = lock or LOCK
    lines = [line for line in lock.read_text().splitlines() if not line.startswith(MARK)]
    lock.write_text("\n".join([MARK + digest(), *lines]) + "\n")


def check(lock: Path | None = None) -> int:
    lock = lock or LOCK
    if not lock.exists():
        print(f"{lock.name} is missing: run `make lock` and commit it", file=sys.stderr)
        return 1
    if recorded(lock) != digest(PYPROJECT):
        print(
            f"{lock.name} is out of date: pyproject.toml's dependencies changed since it was made.\n"
            "Run `make lock` and commit the new requirements.lock with the change.",
            file=sys.stderr,
        )
        return 1
    print(f"{lock.name} matches pyproject.toml's dependencies")
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "stamp":
        stamp()
    elif command == "check":
        sys.exit(check())
    else:
        sys.exit("usage: python tools/lockfile.py stamp|check")
