"""The `parley` command as a user runs it: real subprocesses, real databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.parley import ROOT, Parley, run_parley

SHIPPED = ROOT / "config" / "programmes" / "idm-2022-1.yaml"


def one_clean_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["db", "check"],
        ["programme"],
        ["programme", "load"],
        ["programme", "check"],
        ["event", "copy"],
        ["users", "add"],
        ["users", "remove"],
        ["worker"],
        ["beat"],
        ["worker-ping"],
        ["settings"],
    ],
)
def test_every_command_has_help(argv: list[str], sqlite_parley: Parley) -> None:
    result = sqlite_parley.cli(*argv, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: " in result.stdout


def test_programme_check_accepts_the_shipped_programme(sqlite_parley: Parley) -> None:
    result = sqlite_parley.cli("programme", "check", str(SHIPPED))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{SHIPPED}: ok: idm-2022-1, 3 days, 9 segments"


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("title: ok\nslug: [unclosed\n", ":3:", "YAML"),
        (SHIPPED.read_text().replace('ends: "09:30"', 'ends: "08:30"', 1), ":30:", "not after it starts"),
        (SHIPPED.read_text().replace("America/New_York", "America/Atlantis", 1), ":", "time zone"),
    ],
)
def test_a_bad_programme_file_gets_one_line_naming_file_and_place(
    sqlite_parley: Parley, tmp_path: Path, text: str, where: str, problem: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    for command in ("check", "load"):
        result = sqlite_parley.cli("programme", command, str(bad))
        assert result.returncode == 2
        line = one_clean_line(result.stderr)
        assert line.startswith(f"parley: error: {bad}{where}"), line
        assert problem.lower() in line.lower(), line


def test_a_missing_programme_file_is_reported(sqlite_parley: Parley, tmp_path: Path) -> None:
    result = sqlite_parley.cli("programme", "check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "nope.yaml" in one_clean_line(result.stderr)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PARLEY_PORT", "70000", "PARLEY_PORT"),
        ("PARLEY_PORT", "eighty", "PARLEY_PORT"),
        ("PARLEY_DATABASE_URL", "::not a url::", "PARLEY_DATABASE_URL"),
        ("PARLEY_REDIS_URL", "localhost:6379", "PARLEY_REDIS_URL"),
    ],
)
def test_bad_settings_give_one_line_and_exit_2(sqlite_parley: Parley, variable: str, value: str, message: str) -> None:
    for argv in (["serve"], ["db", "upgrade"]):
        result = sqlite_parley.cli(*argv, **{variable: value})
        assert result.returncode == 2, result.stderr
        line = one_clean_line(result.stderr)
        assert line.startswith("parley: error: invalid setting"), line
        assert message in line


@pytest.mark.parametrize("argv", [["db", "upgrade"], ["serve"], ["programme", "load", str(SHIPPED)]])
def test_a_database_that_is_down_gives_one_line(sqlite_parley: Parley, argv: list[str]) -> None:
    result = sqlite_parley.cli(*argv, PARLEY_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert result.returncode == 1, result.stderr
    line = one_clean_line(result.stderr)
    expected = "parley: error: cannot reach the database postgresql+psycopg://nobody@127.0.0.1:1/none"
    assert line.startswith(expected), line


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    parley = Parley("sqlite", tmp_path / "data")
    result = parley.cli("serve")
    assert result.returncode == 1
    assert "run `parley db upgrade`" in one_clean_line(result.stderr)


def event_rows(parley: Parley) -> dict[str, list[tuple]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(parley.settings().sync_database_url)
    with engine.connect() as conn:
        rows = {
            table: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            for table in ("events", "days", "segments", "segment_people")
        }
    engine.dispose()
    return rows


def test_loading_twice_changes_nothing_and_an_edit_updates_in_place(parley: Parley, tmp_path: Path) -> None:
    first = parley.cli("programme", "load", str(SHIPPED))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "idm-2022-1: updated"
    before = event_rows(parley)
    assert len(before["segments"]) == 9
    again = parley.cli("programme", "load", str(SHIPPED))
    assert again.stdout.strip() == "idm-2022-1: unchanged"
    assert event_rows(parley) == before

    edited = tmp_path / "idm-2022-1.yaml"
    edited.write_text(
        SHIPPED.read_text()
        .replace("Federico Soda", "Federica Soda", 1)
        .replace('ends: "09:30"', 'ends: "09:35"', 1)
        .replace('starts: "09:30"', 'starts: "09:35"', 1)
    )
    result = parley.cli("programme", "load", str(edited))
    assert result.stdout.strip() == "idm-2022-1: updated", result.stderr
    after = event_rows(parley)
    assert [r[0] for r in after["segments"]] == [r[0] for r in before["segments"]], "segment ids must be stable"
    assert len(after["segment_people"]) == len(before["segment_people"])
    names = {r[4] for r in after["segment_people"]}
    assert "Federica Soda" in names and "Federico Soda" not in names


def test_event_copy_keeps_local_times_across_daylight_saving(parley: Parley) -> None:
    import httpx

    from tests.fixtures.parley import ServerProcess

    assert parley.cli("programme", "load", str(SHIPPED)).returncode == 0
    # 2026-03-08 is the day New York moves to daylight saving time: 9:00 is then 13:00 UTC, not 14:00
    result = parley.cli("event", "copy", "idm-2022-1", "--new-slug", "idm-rehearsal", "--first-day", "2026-03-07")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "idm-rehearsal: copy of idm-2022-1, 3 days from 2026-03-07"
    again = parley.cli("event", "copy", "idm-2022-1", "--new-slug", "idm-rehearsal", "--first-day", "2026-03-07")
    assert again.returncode == 1 and "exists already" in one_clean_line(again.stderr)
    missing = parley.cli("event", "copy", "nope", "--new-slug", "x-y", "--first-day", "2026-03-07")
    assert missing.returncode == 1 and "no event with slug 'nope'" in one_clean_line(missing.stderr)

    server = ServerProcess(parley)
    try:
        doc = httpx.get(f"{server.url}/api/events/idm-rehearsal").json()
    finally:
        server.stop()
    starts = [day["segments"][0]["starts_at"] for day in doc["days"]]
    assert starts == ["2026-03-07T09:00:00-05:00", "2026-03-08T09:00:00-04:00", "2026-03-09T09:00:00-04:00"]
    assert [d["date"] for d in doc["days"]] == ["2026-03-07", "2026-03-08", "2026-03-09"]


def test_users_add_grants_roles_and_reports_mistakes(sqlite_parley: Parley) -> None:
    assert sqlite_parley.cli("programme", "load", str(SHIPPED)).returncode == 0
    added = sqlite_parley.cli(
        "users",
        "add",
        "--role",
        "moderator",
        "--event",
        "idm-2022-1",
        "--email",
        "Mod@Example.org",
        "--password-stdin",
        input="correct horse battery\n",
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "mod@example.org: moderator of idm-2022-1 (new account)"
    again = sqlite_parley.cli(
        "users", "add", "--role", "organiser", "--event", "idm-2022-1", "--email", "mod@example.org"
    )
    assert again.stdout.strip() == "mod@example.org: organiser of idm-2022-1"
    unknown = sqlite_parley.cli("users", "add", "--role", "moderator", "--event", "nope", "--email", "a@b.org")
    assert unknown.returncode == 1 and "no event with slug 'nope'" in one_clean_line(unknown.stderr)
    bad_email = sqlite_parley.cli("users", "add", "--role", "moderator", "--event", "idm-2022-1", "--email", "x")
    assert bad_email.returncode == 2 and "not an email address" in one_clean_line(bad_email.stderr)

    from sqlalchemy import create_engine, text

    from server.services.accounts import verify_password

    engine = create_engine(sqlite_parley.settings().sync_database_url)
    with engine.connect() as conn:
        (hash_,) = conn.execute(text("SELECT password_hash FROM users WHERE email='mod@example.org'")).one()
        roles = sorted(r[0] for r in conn.execute(text("SELECT role FROM event_roles")))
    engine.dispose()
    assert hash_.startswith("$argon2id$")
    assert verify_password(hash_, "correct horse battery")
    assert not verify_password(hash_, "wrong")
    assert roles == ["moderator", "organiser"]


def test_db_upgrade_then_check_on_a_fresh_folder(tmp_path: Path) -> None:
    parley = Parley("sqlite", tmp_path / "fresh")
    up = parley.cli("db", "upgrade")
    assert up.returncode == 0, up.stderr
    assert (tmp_path / "fresh" / "parley.db").exists()
    check = parley.cli("db", "check")
    assert check.returncode == 0, check.stderr


def test_settings_command_lists_every_variable(sqlite_parley: Parley) -> None:
    result = run_parley("settings", env=sqlite_parley.env())
    assert result.returncode == 0
    assert "PARLEY_DATABASE_URL=" in result.stdout and "PARLEY_REDIS_URL=" in result.stdout


def test_production_mode_creates_no_demo_accounts(sqlite_parley: Parley) -> None:
    from tests.fixtures.parley import ServerProcess

    server = ServerProcess(sqlite_parley, PARLEY_ENV="production")
    server.stop()
    log = server.log.read_text()
    assert "loaded programme idm-2022-1" in log
    assert "sign in once" not in log
    users = sqlite_parley.cli("users", "remove", "--role", "moderator", "--event", "idm-2022-1", "--email", "x@y.org")
    assert "is not moderator" in users.stderr
