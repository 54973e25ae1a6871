"""All configuration, read once from the environment (prefix ``TALLYBOOK_``) or ``.env``."""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret


class SmtpSecurity(StrEnum):
    """How e-mail reaches the SMTP server. ``Settings.smtp_security`` spells the same values
    as a ``Literal``, which keeps the wording of a bad value's error; a test checks both."""

    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"  # implicit TLS from the first byte (SMTPS)


class ConfigurationError(RuntimeError):
    """The settings cannot work as given: one sentence that names the setting and says what
    to change. Raised by whatever opens a store, a file or a port at start; the CLI turns it
    into that sentence on stderr and exit status 2."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TALLYBOOK_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the relational store; SQLite in the data dir when unset.",
    )
    events_url: str | None = None
    duckdb_memory_limit: str | None = Field(
        default=None,
        description="DuckDB's `memory_limit` for the embedded event store (`512MB`, `2GB`, "
        "`25%`): its cache of the table's blocks and its working memory together; a query "
        "needing more spills to disk. Unset: DuckDB's default, 80 % of the RAM.",
    )
    secret_key: SecretStr | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: Annotated[
        Literal["critical", "error", "warning", "info", "debug"],
        BeforeValidator(lambda value: value.lower() if isinstance(value, str) else value),
    ] = "info"
    public_url: str | None = Field(
        default=None, description="Base URL used in absolute links (cursor pages, downloads)."
    )

    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a process remembers a token's user and organisation, and "
        "whether an organisation sending events exists with an active subscription: what an "
        "operator changes in the database reaches each process within this time. 0: every "
        "request looks them up.",
    )
    max_request_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins (`https://console.example.com`) that web pages "
        "may call the API from; none by default. Browser ingestion is open to any origin.",
    )
    import_max_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    attachment_max_bytes: int = Field(
        default=20 * 1024 * 1024, gt=0, description="Largest v4 file attachment (an image)."
    )

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_from: str = "tallybook@localhost"
    slack_api_url: str = "https://slack.com/api/"
    outbound_allow_private: bool = False

    # The worker (DESIGN §6); every duration is in seconds.
    worker_poll_interval: float = Field(default=10.0, gt=0, description="Pause between passes.")
    evaluation_delay: float = Field(
        default=300.0, ge=0, description="Wait after a period closes, for late events."
    )
    check_interval: float = Field(default=300.0, gt=0, description="Ongoing checks' spacing.")
    catch_up_periods: int = Field(default=31, ge=1, le=366)
    lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A claim's lifetime; renewed before each delivery, so it must outlast the "
        "longest one (a Slack card with a chart makes up to 5 calls of delivery_timeout).",
    )
    retry_initial: float = Field(default=30.0, gt=0)
    retry_max: float = Field(default=3600.0, gt=0)
    retry_give_up: float = Field(default=86400.0, gt=0)
    email_bundle_window: float = Field(default=600.0, ge=0)
    evaluation_concurrency: int = Field(default=4, ge=1, le=64)
    delivery_concurrency: int = Field(default=8, ge=1, le=64)
    delivery_timeout: float = Field(default=30.0, gt=0)

    # Report exports (DESIGN §8) and the file store that holds them.
    files_url: str | None = Field(
        default=None,
        description="Where files (report exports) are kept: unset for the `files` folder of "
        "the data directory, `file:///absolute/path`, or `s3://bucket/prefix`.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="The S3-compatible service of an `s3://` files URL (MinIO, Ceph …); "
        "unset for AWS. Credentials come from the usual AWS environment or configuration.",
    )
    export_ttl: float = Field(
        default=7 * 86400.0,
        gt=0,
        description="Seconds an export's download link stays valid after it completes.",
    )
    export_max_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Tries of an export (a crash counts as one) before it is failed for good.",
    )

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return f"sqlite:///{(self.data_dir / 'tallybook.sqlite3').resolve()}"

    @property
    def cors_origin_list(self) -> list[str]:
        return [
            origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()
        ]

    @property
    def is_embedded(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def ensure_data_dir(self) -> None:
        """Make the data directory; ConfigurationError when it cannot be made or written."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            writable = False
        else:
            writable = os.access(self.data_dir, os.W_OK | os.X_OK)
        if not writable:
            raise ConfigurationError(
                f"TALLYBOOK_DATA_DIR ({self.data_dir}) must be a directory this process can "
                "create and write."
            )

    @field_validator("public_url")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        """An absolute http(s) URL: links are this base and a path."""
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL, such as https://reports.example.com")
        return value

    @field_validator("secret_key")
    @classmethod
    def _not_empty(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty key would sign links anyone can make."""
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    def signing_key(self) -> str:
        """The secret used to sign links; generated once into the data dir when embedded."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if not self.is_embedded:
            raise ConfigurationError(
                "TALLYBOOK_SECRET_KEY must be set when the relational store is PostgreSQL."
            )
        self.ensure_data_dir()
        path = self.data_dir / SECRET_KEY_FILE
        try:
            if not path.exists():
                _create_whole(path, secrets.token_urlsafe(48))
            key = path.read_text().strip()
        except OSError:
            raise ConfigurationError(
                f"TALLYBOOK_DATA_DIR ({self.data_dir}) must let this process write and read "
                f"its {SECRET_KEY_FILE} file, or set TALLYBOOK_SECRET_KEY."
            ) from None
        if not key:
            raise ConfigurationError(
                f"The {SECRET_KEY_FILE} file of TALLYBOOK_DATA_DIR ({self.data_dir}) is empty: "
                "delete it to have one made, or set TALLYBOOK_SECRET_KEY."
            )
        return key


def _create_whole(path: Path, text: str) -> None:
    """``path`` with ``text``, appearing whole or not at all: written beside it, then linked
    into place, so processes starting together never read it half written; one that finds
    it made meanwhile keeps what is there."""
    spare = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        descriptor = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        with suppress(FileExistsError):
            os.link(spare, path)
    finally:
        spare.unlink(missing_ok=True)
