"""Every setting of Parley, read from ``PARLEY_*`` environment variables or ``.env``.

Safe defaults give the embedded mode: SQLite under the data folder, no Redis, the in-process bus.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_PROGRAMMES = PACKAGE_DIR / "programmes"

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


class Settings(BaseSettings):
    """Parley's configuration. Field names map to ``PARLEY_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_", env_file=".env", extra="ignore")

    env: Literal["development", "production"] = Field(
        "development", description="`production` refuses generated secrets and demo accounts."
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    public_url: str = Field(
        "",
        description="Base URL of the site as attendees reach it (join links in mails); default http://HOST:PORT.",
    )
    data_dir: Path = Field(Path("data"), description="Folder for the SQLite file, secret key, outbox, reports.")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty = SQLite file `DATA_DIR/parley.db`. Production: postgresql+asyncpg://…"
    )
    redis_url: str = Field("", description="Redis URL for the bus and the Celery broker; empty = embedded mode.")
    bus_prefix: str = Field(
        "", max_length=64, description="Prefix of the Redis pub/sub channels, to share one Redis between deployments."
    )
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Signs sessions and join links; empty = generated once into DATA_DIR (development only).",
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to open websockets and to send POST/PUT/PATCH/DELETE requests; "
        "empty = the server's own URL.",
    )
    load_programmes: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: sorted(SHIPPED_PROGRAMMES.glob("*.yaml")),
        description="Programme files loaded at start when their event does not exist yet.",
    )
    sign_in_window_s: int = Field(
        900, ge=1, le=86400, description="Failed staff sign-ins older than this many seconds no longer count."
    )
    sign_in_max_failures_per_account: int = Field(
        5, ge=1, le=1000, description="Failed password sign-ins per account within the window before 429."
    )
    sign_in_max_failures_per_address: int = Field(
        20, ge=1, le=100000, description="Failed password sign-ins per client address within the window before 429."
    )
    lost_link_window_s: int = Field(
        3600, ge=1, le=86400, description='"I lost my link" requests older than this many seconds no longer count.'
    )
    lost_link_max_per_email: int = Field(
        3, ge=1, le=1000, description='"I lost my link" requests per address asked for within the window before 429.'
    )
    lost_link_max_per_address: int = Field(
        20, ge=1, le=100000, description='"I lost my link" requests per client address within the window before 429.'
    )
    verify_window_s: int = Field(
        900, ge=1, le=86400, description="Unknown certificate codes older than this many seconds no longer count."
    )
    verify_max_failures_per_address: int = Field(
        20, ge=1, le=100000, description="Unknown certificate codes per client address within the window before 429."
    )
    heartbeat_s: float = Field(15.0, gt=0, le=300, description="Seconds between websocket heartbeats.")
    idle_timeout_s: float = Field(
        45.0, gt=0, le=3600, description="A websocket silent this long is closed; its presence ends at its last frame."
    )
    direct_frames: bool = Field(
        True,
        description="Write fan-out frames straight to uvicorn's transports; 0 = every frame through ASGI (slower).",
    )
    report_attendance_threshold: float = Field(
        0.5, ge=0, le=1, description="Share of a morning an attendee must be present for to count as attended."
    )
    statement_max_chars: int = Field(
        5000, ge=1, le=10000, description="Most characters of a written statement (10,000 at most, the wire's limit)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes for `parley serve`.")
    embedded_worker: bool = Field(
        True,
        description="With no Redis, `parley serve` also runs a Celery worker + beat (SQLite broker) as its child.",
    )
    clock_anchor: str = Field(
        "",
        description="Rehearsals: the real instant (ISO 8601 with offset) the virtual clock starts at; "
        "empty = system clock.",
    )
    clock_timeline: str = Field(
        "",
        description="Rehearsals: comma-separated REAL_OFFSET_S=VIRTUAL_INSTANT[@SPEED] pieces of the virtual clock "
        "(docs/rehearsal.md).",
    )
    clock_speed: float = Field(
        1.0,
        ge=1,
        le=100000,
        description="Rehearsals: virtual seconds per real second, the most any piece of the timeline runs at.",
    )
    metrics_dir: str = Field(
        "",
        description="Folder where `parley serve`, its uvicorn workers and `parley worker` on this machine write "
        "the values GET /metrics sums (Prometheus multiprocess mode); empty = DATA_DIR/metrics.",
    )
    worker_metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="`parley worker` serves its own /metrics (no token) on PARLEY_HOST at this port; 0 = not "
        "(a worker beside `parley serve` writes into PARLEY_METRICS_DIR and shows there).",
    )
    metrics_token: SecretStr = Field(
        SecretStr(""),
        description="Bearer token GET /metrics asks for; empty = open (it shows no personal data: keep it "
        "behind the proxy or set a token).",
    )
    import_max_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest registration file (CSV or XLSX) an organiser may upload, in bytes.",
    )
    import_max_rows: int = Field(
        # each row is saved by registrations.register() in one transaction: about 1.5 ms of CPU a row
        # here, during which SQLite (embedded) makes other writers wait (docs/http-api.md)
        2000,
        ge=1,
        le=100000,
        description="Most registrations one uploaded file may hold (blank lines aside).",
    )
    smtp_host: str = Field(
        "", description="SMTP server for reminder mails; empty = write them to DATA_DIR/outbox as .eml."
    )
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port (587 with STARTTLS, 465 with SSL, 25 plain).")
    smtp_username: str = Field("", description="SMTP login; empty = no authentication.")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password (with PARLEY_SMTP_USERNAME).")
    smtp_from: str = Field("Parley <noreply@parley.localhost>", description="From address of the mails Parley sends.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS (usually port 587).")
    smtp_ssl: bool = Field(False, description="Connect to SMTP over TLS from the start (usually port 465).")
    smtp_timeout: float = Field(30.0, gt=0, le=300, description="Seconds before an SMTP connection or reply times out.")
    mail_batch: int = Field(
        50, ge=1, le=500, description="Most mails one send task delivers over one SMTP connection (docs/workers.md)."
    )

    @field_validator("allowed_origins", "load_programmes", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("database_url", "redis_url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _parseable_database_url(cls, value: str) -> str:
        if not value:
            return value
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {value!r}") from exc
        if url.get_backend_name() not in ASYNC_DRIVERS:
            raise ValueError(f"unsupported database {url.get_backend_name()!r} (use sqlite or postgresql)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"not a Redis URL: {value!r} (redis://host:port/db)")
        return value

    @model_validator(mode="after")
    def _one_smtp_tls_mode(self) -> Settings:
        if self.smtp_starttls and self.smtp_ssl:
            raise ValueError("PARLEY_SMTP_STARTTLS and PARLEY_SMTP_SSL exclude each other: choose one")
        return self

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        if self.env == "production":
            if not self.secret_key.get_secret_value():
                raise ValueError("PARLEY_SECRET_KEY must be set in production")
            if not self.database_url:
                raise ValueError("PARLEY_DATABASE_URL must be set in production")
        return self

    @model_validator(mode="after")
    def _clock_timeline_readable(self) -> Settings:
        if bool(self.clock_anchor) != bool(self.clock_timeline):
            raise ValueError("PARLEY_CLOCK_ANCHOR and PARLEY_CLOCK_TIMELINE go together: set both or neither")
        if self.clock_anchor:
            parse_instant_text(self.clock_anchor, "PARLEY_CLOCK_ANCHOR")
            parse_clock_timeline(self.clock_timeline)
        return self

    @property
    def virtual_speed(self) -> float:
        """Virtual seconds per real second: 1 on the system clock, PARLEY_CLOCK_SPEED in a rehearsal."""
        return self.clock_speed if self.clock_anchor else 1.0

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: in-process bus, SQLite-friendly workers."""
        return not self.redis_url

    @cached_property
    def async_database_url(self) -> str:
        url = make_url(self.database_url or f"sqlite:///{(self.data_dir / 'parley.db').resolve()}")
        return url.set(drivername=ASYNC_DRIVERS[url.get_backend_name()]).render_as_string(hide_password=False)

    @cached_property
    def sync_database_url(self) -> str:
        url = make_url(self.async_database_url)
        return url.set(drivername=SYNC_DRIVERS[url.get_backend_name()]).render_as_string(hide_password=False)

    @property
    def celery_broker_url(self) -> str:
        """Redis in production; a SQLite-backed Kombu transport in DATA_DIR when embedded."""
        if self.redis_url:
            return self.redis_url
        return f"sqla+sqlite:///{(self.data_dir / 'broker.db').resolve()}"

    @property
    def celery_result_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return f"db+sqlite:///{(self.data_dir / 'results.db').resolve()}"

    @property
    def resolved_metrics_dir(self) -> Path:
        return Path(self.metrics_dir) if self.metrics_dir else self.data_dir / "metrics"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def origins(self) -> list[str]:
        return self.allowed_origins or [self.base_url]

    def resolved_secret_key(self) -> str:
        """The configured key, or (development) one generated once and kept in DATA_DIR."""
        key = self.secret_key.get_secret_value()
        if key:
            return key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def parse_instant_text(text: str, name: str) -> datetime:
    """An ISO 8601 instant with its UTC offset, in UTC; a ValueError naming the setting otherwise."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not an ISO 8601 instant") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{name}: {text!r} has no UTC offset")
    return parsed.astimezone(UTC)


def parse_clock_timeline(text: str) -> list[tuple[float, datetime, float | None]]:
    """``REAL_OFFSET_S=VIRTUAL_INSTANT[@SPEED],...`` as (real seconds after the anchor, virtual
    instant, speed or None) pieces: at each real offset the virtual clock is set to its instant,
    then runs at the piece's speed (PARLEY_CLOCK_SPEED when it names none). The first piece starts
    at offset 0; offsets grow."""
    pieces: list[tuple[float, datetime, float | None]] = []
    for item in (part.strip() for part in text.split(",")):
        offset_text, sep, rest = item.partition("=")
        if not sep:
            raise ValueError(f"PARLEY_CLOCK_TIMELINE: {item!r} is not REAL_OFFSET_S=VIRTUAL_INSTANT[@SPEED]")
        instant_text, at, speed_text = rest.partition("@")
        try:
            offset = float(offset_text)
            speed = float(speed_text) if at else None
        except ValueError:
            raise ValueError(f"PARLEY_CLOCK_TIMELINE: {item!r} has a number that is not one") from None
        if speed is not None and speed < 1:
            raise ValueError(f"PARLEY_CLOCK_TIMELINE: {item!r}: a speed is at least 1")
        pieces.append((offset, parse_instant_text(instant_text, "PARLEY_CLOCK_TIMELINE"), speed))
    if not pieces or pieces[0][0] != 0:
        raise ValueError("PARLEY_CLOCK_TIMELINE: the first piece starts at real offset 0")
    for before, after in zip(pieces, pieces[1:], strict=False):
        if after[0] <= before[0]:
            raise ValueError("PARLEY_CLOCK_TIMELINE: real offsets must grow")
    return pieces


def describe_settings() -> list[tuple[str, str, str]]:
    """(variable, default, description) rows for the README table and `parley settings`."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        if isinstance(default, list):
            default = ",".join(str(item) for item in default) if name != "load_programmes" else "shipped programmes"
        rows.append((f"PARLEY_{name.upper()}", str(default), field.description or ""))
    return rows
