from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import Settings, describe_settings


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults_are_the_embedded_mode(tmp_path: Path) -> None:
    settings = make(data_dir=tmp_path)
    assert settings.embedded
    assert settings.async_database_url == f"sqlite+aiosqlite:///{(tmp_path / 'parley.db').resolve()}"
    assert settings.sync_database_url == f"sqlite:///{(tmp_path / 'parley.db').resolve()}"
    assert settings.base_url == "http://127.0.0.1:8000"
    assert [p.name for p in settings.load_programmes] == ["idm-2022-1.yaml"]


def test_postgres_url_gets_the_right_driver_for_each_side() -> None:
    settings = make(database_url="postgresql://u:p@db:5432/parley")
    assert settings.async_database_url == "postgresql+asyncpg://u:p@db:5432/parley"
    assert settings.sync_database_url == "postgresql+psycopg://u:p@db:5432/parley"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PARLEY_PORT", "9123")
    monkeypatch.setenv("PARLEY_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.port == 9123
    assert settings.origins == ["https://a.example", "https://b.example"]
    assert settings.data_dir == tmp_path


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"port": 70000}, "less than or equal to 65535"),
        ({"port": 0}, "greater than or equal to 1"),
        ({"database_url": "not a url"}, "not a database URL"),
        ({"database_url": "mysql://x@y/z"}, "unsupported database 'mysql'"),
        ({"redis_url": "http://localhost"}, "not a Redis URL"),
        ({"env": "production"}, "PARLEY_SECRET_KEY must be set in production"),
    ],
)
def test_bad_settings_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(**values)


def test_generated_secret_key_is_kept_in_the_data_folder(tmp_path: Path) -> None:
    first = make(data_dir=tmp_path).resolved_secret_key()
    assert len(first) >= 48
    assert make(data_dir=tmp_path).resolved_secret_key() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_every_setting_is_in_the_readme_and_the_example_env() -> None:
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    example = (root / "config" / "env.example").read_text()
    for variable, _default, description in describe_settings():
        assert f"`{variable}`" in readme, variable
        assert variable in example, variable
        assert description, f"{variable} has no description"
