"""requirements.lock: made from pyproject's dependencies as they are, pinning what the tests ran."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import lockfile  # noqa: E402


def pins() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text()
    return {canonicalize_name(n): v for n, v in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", text, re.M)}


def test_the_lock_is_current_and_pins_every_dependency_within_its_range() -> None:
    assert lockfile.recorded() == lockfile.digest(), "requirements.lock is out of date: run `make lock`"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = pins()
    for line in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (line, locked[name])
    assert "--hash=sha256:" in (ROOT / "requirements.lock").read_text()


def test_the_fast_path_runs_on_the_locked_versions() -> None:
    from importlib.metadata import version

    locked = pins()
    assert version("uvicorn") == locked["uvicorn"]
    assert version("websockets") == locked["websockets"]


def test_a_dependency_changed_without_a_new_lock_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text()
    pyproject.write_text(text.replace('"redis>=5.0"', '"redis>=5.1"'))
    assert lockfile.digest(pyproject) != lockfile.digest()
    script = (
        "import sys; sys.path.insert(0, 'tools'); import lockfile; from pathlib import Path; "
        f"lockfile.PYPROJECT = Path({str(pyproject)!r}); sys.exit(lockfile.check())"
    )
    checked = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 1
    assert "out of date" in checked.stderr and "make lock" in checked.stderr
    ok = subprocess.run([sys.executable, "tools/lockfile.py", "check"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
