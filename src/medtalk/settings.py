"""The one settings object: every knob is a MEDTALK_* environment variable (or a .env line)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Obviously dev-only values: production mode refuses to start with any of them.
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"
DEV_LINK_SECRET = "dev-only-link-secret-change-me-0123456789abcdef"


class Settings(BaseSettings):
    """Configuration of one medtalk process (serve, worker or an operator command)."""

    model_config = SettingsConfigDict(env_prefix="MEDTALK_", env_file=".env", extra="ignore")

    mode: Literal["dev", "production"] = Field("dev", description="production refuses dev secrets")
    host: str = Field("127.0.0.1", description="address `medtalk serve` listens on")
    port: int = Field(8089, description="port `medtalk serve` listens on (spec: 8089)")
    public_url: str = Field(
        "", description="base URL clients reach us at; empty means links are relative paths"
    )
    data_dir: Path = Field(Path("./data"), description="embedded database, keys and files")
    database_url: str = Field(
        "", description="SQLAlchemy async URL; empty means SQLite in data_dir"
    )
    database_pool_size: int = Field(10, description="connections per process (PostgreSQL)")
    auto_migrate: bool = Field(True, description="run migrations when `serve` starts")

    jwt_secret: str = Field(DEV_JWT_SECRET, description="HS256 secret for bearer tokens")
    jwt_jwks_url: str = Field("", description="JWKS URL for RS256/ES256 tokens from an IdP")
    jwt_algorithms: list[str] = Field(["HS256"], description="accepted JWT algorithms")
    jwt_issuer: str = Field("", description="required `iss` claim, if set")
    jwt_audience: str = Field("", description="required `aud` claim, if set")
    jwt_leeway_seconds: int = Field(30, description="clock skew tolerated on exp/nbf")
    dev_token_ttl_seconds: int = Field(12 * 3600, description="lifetime of `medtalk token`")

    encryption_keys: str = Field(
        "",
        description="key ring 'id:base64key,id:base64key' (32-byte AES keys, newest last); "
        "empty in dev means a generated key under data_dir",
    )
    link_secret: str = Field(DEV_LINK_SECRET, description="HMAC secret for signed file links")
    file_link_ttl_seconds: int = Field(600, description="lifetime of a signed file link")

    max_message_length: int = Field(5000, description="characters in one text message")
    max_upload_bytes: int = Field(25 * 1024 * 1024, description="largest accepted file")
    history_page_max: int = Field(100, description="largest `limit` on message history")

    cors_origins: list[str] = Field([], description="browser origins allowed to call us")
    log_level: str = Field("INFO", description="root log level")

    # --- scale-out (issue 3): several nodes, Redis fan-out, RabbitMQ jobs, rate limits ---
    redis_url: str = Field(
        "", description="Redis for cross-node fan-out, presence, typing, rate limits; empty: none"
    )
    redis_prefix: str = Field("medtalk", description="prefix of every Redis key and channel")
    amqp_url: str = Field("", description="RabbitMQ for background jobs; empty: run in-process")
    amqp_prefix: str = Field("medtalk", description="prefix of RabbitMQ exchanges and queues")
    node_id: str = Field("", description="name of this process in presence keys; empty: host-pid")
    presence_ttl_seconds: float = Field(
        30.0, description="a socket not refreshed for this long counts as gone (dead node)"
    )
    typing_ttl_seconds: float = Field(8.0, description="typing state expires after this")
    resync_interval_seconds: float = Field(
        5.0, description="how often each node re-checks its conversations for missed messages"
    )
    rate_messages_per_minute: int = Field(30, description="messages one user may send a minute")
    rate_files_per_hour: int = Field(20, description="files one user may upload an hour")
    notifier: Literal["log", "webhook"] = Field("log", description="offline notification sink")
    notify_webhook_url: str = Field("", description="URL the webhook notifier POSTs to")
    notify_webhook_secret: str = Field(
        "", description="HMAC-SHA256 secret signing webhook bodies (X-Medtalk-Signature)"
    )
    outbox_poll_seconds: float = Field(1.0, description="outbox relay poll interval")
    job_max_attempts: int = Field(5, description="tries before a job goes to the dead letters")
    job_retry_base_seconds: float = Field(1.0, description="first retry delay (doubles each try)")
    archive_after_days: float = Field(
        30.0, description="CLOSED conversations older than this are archived"
    )
    archive_sweep_seconds: float = Field(3600.0, description="how often to look for them")

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if self.mode == "production":
            if self.jwt_secret == DEV_JWT_SECRET and not self.jwt_jwks_url:
                raise ValueError("production mode needs MEDTALK_JWT_SECRET or MEDTALK_JWT_JWKS_URL")
            if self.link_secret == DEV_LINK_SECRET:
                raise ValueError("production mode needs MEDTALK_LINK_SECRET")
            if not self.encryption_keys:
                raise ValueError("production mode needs MEDTALK_ENCRYPTION_KEYS")
            if self.notifier == "webhook" and not self.notify_webhook_url:
                raise ValueError("the webhook notifier needs MEDTALK_NOTIFY_WEBHOOK_URL")
            if "none" in (alg.lower() for alg in self.jwt_algorithms):
                raise ValueError("the 'none' JWT algorithm is never accepted")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'medtalk.db').resolve()}"

    @property
    def node_name(self) -> str:
        import os
        import socket

        return self.node_id or f"{socket.gethostname()}-{os.getpid()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")
