"""The one settings object: every knob is a MEDTALK_* environment variable (or a .env line)."""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Obviously dev-only values: production mode refuses to start with any of them.
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"
DEV_LINK_SECRET = "dev-only-link-secret-change-me-0123456789abcdef"
DEV_ROOM_TOKEN_SECRET = "dev-only-room-token-secret-change-me-0123456789"
DEV_JIBRI_SECRET = "dev-only-jibri-secret-change-me-0123456789abcdef"  # recording (issue 10)


def _comma_list(value: Any) -> Any:
    """Accept 'a,b' from the environment as well as a JSON list or a Python list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


UrlList = Annotated[list[str], NoDecode, BeforeValidator(_comma_list)]
# scheme://host[:port], nothing else (a CSP source list must not take `*`, paths or `;`).
_HOURS = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")
DEV_AUDIT_SECRET = "dev-only-audit-secret-change-me-0123456789abcdef"
NotifierName = Literal["log", "webhook", "webpush", "email"]


class Settings(BaseSettings):
    """Configuration of one medtalk process (serve, worker or an operator command)."""

    model_config = SettingsConfigDict(env_prefix="MEDTALK_", env_file=".env", extra="ignore")

    mode: Literal["dev", "production"] = Field("dev", description="production refuses dev secrets")
    host: str = Field("127.0.0.1", description="address `medtalk serve` listens on")
    port: int = Field(8089, description="port `medtalk serve` listens on (spec: 8089)")
    workers: int = Field(
        1,
        ge=1,
        description="serving processes on the one port (`serve --workers`); more than one "
        "needs PostgreSQL and Redis",
    )
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
    max_upload_bytes: int = Field(
        100 * 1024 * 1024, description="largest accepted file of any type (caps max_*_bytes)"
    )
    history_page_max: int = Field(100, description="largest `limit` on message history")

    cors_origins: list[str] = Field([], description="browser origins allowed to call us")
    log_level: str = Field("INFO", description="root log level")

    # --- files (issue 4): storage backend, per-type limits, images, malware scanning ---------
    storage_url: str = Field(
        "",
        description="where files live: empty (or file:///path) = encrypted local disk under "
        "data_dir/files; s3://bucket/prefix = S3-compatible object storage",
    )
    s3_endpoint_url: str = Field("", description="S3 API endpoint (MinIO, moto); empty = AWS")
    s3_region: str = Field("", description="S3 region; empty = the AWS config chain's")
    s3_access_key_id: str = Field("", description="empty = the standard AWS credential chain")
    s3_secret_access_key: str = Field("", description="empty = the standard AWS credential chain")
    s3_server_side_encryption: Literal["AES256", "aws:kms"] = Field(
        "AES256", description="ServerSideEncryption requested on every put"
    )
    s3_kms_key_id: str = Field("", description="KMS key id when encryption is aws:kms")
    s3_part_bytes: int = Field(
        8 * 1024 * 1024, ge=5 * 1024 * 1024, description="multipart upload part size"
    )
    s3_download_redirect: bool = Field(
        False,
        description="downloads answer 302 to a short-lived presigned S3 URL instead of "
        "streaming through medtalk (the signed medtalk link is still checked first)",
    )
    s3_presign_ttl_seconds: int = Field(60, description="lifetime of a presigned S3 URL")
    s3_public_base_url: str = Field(
        "", description="CDN/proxy origin that replaces the S3 endpoint in presigned URLs"
    )
    max_image_bytes: int = Field(10 * 1024 * 1024, description="largest IMAGE upload")
    max_file_bytes: int = Field(25 * 1024 * 1024, description="largest FILE (PDF, DICOM) upload")
    max_audio_bytes: int = Field(25 * 1024 * 1024, description="largest AUDIO upload")
    max_video_bytes: int = Field(100 * 1024 * 1024, description="largest VIDEO upload")
    max_image_pixels: int = Field(
        24_000_000, description="larger images are refused (422) before they are decoded"
    )
    image_decodes: int = Field(
        2, ge=1, description="images decoded at once per process (each ~4 bytes a pixel)"
    )
    thumbnail_max_px: int = Field(320, description="longest side of image thumbnails")
    clamd_url: str = Field(
        "",
        description="ClamAV daemon, tcp://host:port or a unix socket path; empty = no "
        "scanning, files are CLEAN at once",
    )
    clamd_timeout_seconds: float = Field(120.0, description="one INSTREAM scan, at most")
    # --- operations (logs, metrics, readiness) ---
    log_format: Literal["json", "text"] = Field(
        "json", description="log lines as JSON objects (production) or plain text"
    )
    active_conversation_window_minutes: int = Field(
        15, description="a conversation is active if it had a message this many minutes ago"
    )
    readiness_timeout_seconds: float = Field(
        2.0, description="time each /readyz dependency check may take before it counts as down"
    )
    # --- security (issue 9): audit trail, sessions, transport, retention --------------------
    audit_secret: str = Field(
        DEV_AUDIT_SECRET, description="HMAC secret chaining audit rows (tamper evidence)"
    )
    audit_refusals_per_window: int = Field(
        60,
        ge=0,
        description="refused requests of one client (IP and user) written as audit rows per "
        "window; the rest become one `audit.refusals_suppressed` row with their count; 0 = all",
    )
    audit_refusal_window_seconds: float = Field(
        60.0, gt=0, description="the window of audit_refusals_per_window"
    )
    revocation_cache_seconds: float = Field(
        5.0, description="how long a 'not revoked' answer is cached in-process"
    )
    revocation_sweep_seconds: float = Field(
        15.0,
        gt=0,
        description="how often each node reads the tokens revoked on any node and ends its "
        "sockets of them (a revoked socket on another node ends within this)",
    )
    tls_cert_file: Path | None = Field(None, description="PEM certificate: `serve` speaks TLS")
    tls_key_file: Path | None = Field(None, description="PEM private key for tls_cert_file")
    forwarded_allow_ips: str = Field(
        "127.0.0.1", description="proxies trusted for X-Forwarded-Proto/For (uvicorn)"
    )
    hsts_max_age: int = Field(31536000, description="Strict-Transport-Security max-age (https)")
    ws_max_message_bytes: int = Field(
        128 * 1024, description="largest Socket.IO/WebSocket message accepted"
    )
    max_request_body_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="largest request body of a route without a limit of its own (JSON); "
        "uploads, recording chunks, Jibri files and Socket.IO polling have theirs",
    )
    request_body_idle_seconds: float = Field(
        30.0, gt=0, description="a request body that stops arriving this long is refused (408)"
    )
    shutdown_timeout_seconds: int = Field(
        10,
        ge=1,
        description="`serve` waits this long for open requests on SIGTERM, then closes them",
    )
    max_sockets_per_user: int = Field(
        20,
        ge=0,
        description="open Socket.IO connections one user may hold on a node; more are "
        "refused (connect_error TOO_MANY_SOCKETS); 0 = no cap",
    )
    retention_closed_days: int = Field(
        0, description="purge messages/files of CLOSED conversations idle this long; 0 = keep"
    )
    retention_archived_days: int = Field(
        0, description="purge messages/files of ARCHIVED conversations idle this long; 0 = keep"
    )
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
    notifier: Annotated[list[NotifierName], NoDecode, BeforeValidator(_comma_list)] = Field(
        ["log"],
        description="where offline notifications go, several at once (comma-separated): log, "
        "webhook (the platform's own push), webpush (browsers), email (opt-in digests); "
        "docs/notifications.md",
    )
    notify_webhook_url: str = Field("", description="URL the webhook notifier POSTs to")
    notify_webhook_secret: str = Field(
        "", description="HMAC-SHA256 secret signing webhook bodies (X-Medtalk-Signature)"
    )
    notify_coalesce_seconds: float = Field(
        60.0,
        ge=0,
        description="after an offline notification, later messages of that conversation wait "
        "this long and go out as one",
    )
    notify_unseen_window_seconds: float = Field(
        60.0,
        ge=0,
        description="when a user's last socket goes, messages of the last this many seconds "
        "they have not read are notified as if they had been offline (a dead socket is found "
        "only after engine.io's ping interval and timeout, 45 s)",
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
            if self.audit_secret == DEV_AUDIT_SECRET:
                raise ValueError("production mode needs MEDTALK_AUDIT_SECRET")
            if bool(self.tls_cert_file) != bool(self.tls_key_file):
                raise ValueError("MEDTALK_TLS_CERT_FILE and MEDTALK_TLS_KEY_FILE go together")
            if "webhook" in self.notifier and not self.notify_webhook_url:
                raise ValueError("the webhook notifier needs MEDTALK_NOTIFY_WEBHOOK_URL")
            if "none" in (alg.lower() for alg in self.jwt_algorithms):
                raise ValueError("the 'none' JWT algorithm is never accepted")
        return self

    @model_validator(mode="after")
    def _refuse_mixed_jwt_algorithms(self) -> Settings:
        """security (issue 16): one key kind. HS* verifies with the shared secret, the others
        with the JWKS's public keys; a mixed list is algorithm confusion waiting to happen."""
        symmetric = {alg.upper().startswith("HS") for alg in self.jwt_algorithms}
        if len(symmetric) > 1:
            raise ValueError(
                "MEDTALK_JWT_ALGORITHMS mixes symmetric (HS*) and asymmetric algorithms"
            )
        if self.jwt_jwks_url and True in symmetric:
            raise ValueError("a JWKS (MEDTALK_JWT_JWKS_URL) needs asymmetric JWT algorithms")
        if not self.jwt_jwks_url and False in symmetric:
            raise ValueError("asymmetric JWT algorithms need MEDTALK_JWT_JWKS_URL")
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

    # --- video calls (calls/) ---------------------------------------------------------------
    video_provider: Literal["p2p", "jitsi", "agora"] = Field(
        "p2p", description="how calls are carried: our WebRTC signaling, Jitsi Meet or Agora"
    )
    room_token_secret: str = Field(
        DEV_ROOM_TOKEN_SECRET, description="HS256 secret of p2p room tokens"
    )
    jitsi_domain: str = Field("", description="Jitsi Meet host, e.g. meet.example.org")
    jitsi_app_id: str = Field("", description="Prosody token app_id (the JWT `iss`)")
    jitsi_app_secret: str = Field("", description="Prosody token app_secret (HS256)")
    jitsi_audience: str = Field("jitsi", description="the JWT `aud` Prosody expects")
    agora_app_id: str = Field("", description="Agora project App ID (32 hex)")
    agora_app_certificate: str = Field("", description="Agora App Certificate (32 hex)")
    turn_secret: str = Field(
        "", description="coturn static-auth-secret (use-auth-secret); empty: no TURN offered"
    )
    turn_urls: UrlList = Field([], description="e.g. turn:turn.example.org:3478?transport=udp")
    stun_urls: UrlList = Field(
        ["stun:stun.l.google.com:19302"], description="STUN servers handed to clients"
    )
    call_max_duration_minutes: float = Field(
        60, gt=0, description="the server ends a call this long after it started (spec: 60)"
    )
    call_default_duration_minutes: int = Field(30, ge=1, description="planned call length")
    call_rejoin_grace_seconds: float = Field(
        60,
        ge=0,
        description="a participant whose connection drops (reload, network change) may come "
        "back into the call this long before they count as having left",
    )
    call_join_early_minutes: float = Field(
        15, ge=0, description="how long before scheduledTime the room opens"
    )
    call_ring_seconds: float = Field(
        60,
        ge=0,
        description="a patient answering a call placed on the spot within this long goes straight "
        "in; later, and for appointments, the doctor admits them from the waiting room",
    )
    rooms_per_day: int = Field(10, ge=1, description="rooms one user may create per 24 hours")
    appointment_api_url: str = Field(
        "",
        description="platform appointment API, e.g. https://booking.example.org/api/"
        "appointments/{appointmentId}; empty: appointments are bound on first use "
        "(by doctors only in production)",
    )
    appointment_api_token: str = Field(
        "", description="bearer token medtalk sends to the appointment API"
    )
    appointments_bound_by_patients: bool | None = Field(
        None,
        description="without the appointment API, may a patient bind a new appointment id "
        "(trust on first use)? empty: yes in dev mode, no in production",
    )

    @property
    def patients_bind_appointments(self) -> bool:
        if self.appointments_bound_by_patients is not None:
            return self.appointments_bound_by_patients
        return self.mode == "dev"

    @model_validator(mode="after")
    def _appointment_api_names_the_appointment(self) -> Settings:
        if self.appointment_api_url and "{appointmentId}" not in self.appointment_api_url:
            raise ValueError("MEDTALK_APPOINTMENT_API_URL must contain {appointmentId}")
        return self

    @model_validator(mode="after")
    def _calls_refuse_dev_secrets(self) -> Settings:
        if self.mode == "production" and self.room_token_secret == DEV_ROOM_TOKEN_SECRET:
            raise ValueError("production mode needs MEDTALK_ROOM_TOKEN_SECRET")
        return self

    # --- recording (issue 10): consented call recordings, chunk uploads, assembly, Jibri -----
    recording_chunk_max_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="largest recorder chunk (one MediaRecorder blob)"
    )
    recording_max_bytes: int = Field(
        4 * 1024 * 1024 * 1024, description="largest recording (sum of its chunks, or Jibri's file)"
    )
    recording_final_chunk_seconds: float = Field(
        10.0,
        ge=0,
        description="after a stop, the recorder's last chunk is still accepted this long; "
        "assembly starts when it has passed",
    )
    recording_assembly_lease_seconds: float = Field(
        120.0,
        gt=0,
        description="a node assembling a recording holds it this long (renewed while working); "
        "after a crash another node (or the restarted one) takes over when it expires",
    )
    recording_poll_seconds: float = Field(
        15.0,
        gt=0,
        description="how often the recovery sweep looks for recordings a crash left behind "
        "(a call ended but its recording still runs, or an assembly job was lost)",
    )
    recording_link_ttl_seconds: int = Field(3600, description="lifetime of a signed recording link")
    recording_ffmpeg: str = Field(
        "ffmpeg", description="ffmpeg used to remux assembled recordings; empty = concatenate only"
    )
    recording_ffprobe: str = Field("ffprobe", description="ffprobe used to measure duration")
    jibri_secret: str = Field(
        "",
        description="shared secret of Jibri's finalize script (X-Jibri-Secret); empty: Jibri "
        "uploads are refused",
    )

    @model_validator(mode="after")
    def _recording_refuses_dev_secrets(self) -> Settings:
        if self.jibri_secret == DEV_JIBRI_SECRET:
            raise ValueError("MEDTALK_JIBRI_SECRET must not be the published dev value")
        if self.mode == "production" and self.video_provider == "jitsi" and not self.jibri_secret:
            raise ValueError("production mode with Jitsi needs MEDTALK_JIBRI_SECRET")
        return self

    # --- web client ---------------------------------------------------------------------
    demo_accounts: bool = Field(
        False,
        description="dev only: GET /api/v1/dev/demo-accounts hands out the demo doctor's and "
        "patient's tokens to the browser's sign-in picker (`serve --demo` turns it on)",
    )

    web_frame_ancestors: UrlList = Field(
        [],
        description="origins besides our own that may frame the web client (CSP "
        "frame-ancestors), e.g. https://app.example.org; comma-separated",
    )

    @model_validator(mode="after")
    def _frame_ancestors_are_origins(self) -> Settings:
        for origin in self.web_frame_ancestors:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"MEDTALK_WEB_FRAME_ANCESTORS takes origins like https://app.example.org, "
                    f"not {origin!r}"
                )
        return self

    @model_validator(mode="after")
    def _refuse_demo_accounts_in_production(self) -> Settings:
        if self.mode == "production" and self.demo_accounts:
            raise ValueError("demo accounts are for dev mode only; unset MEDTALK_DEMO_ACCOUNTS")
        return self

    # --- performance (issue 8): event loop, JSON, garbage collector, message group commit ---
    fast_event_loop: bool = Field(
        True, description="`serve` runs on uvloop with the httptools parser when installed"
    )
    gc_freeze: bool = Field(
        True, description="`serve` moves start-up objects out of the collector's sight (gc.freeze)"
    )
    gc_gen0_threshold: int = Field(
        50_000, ge=0, description="gen-0 collection threshold for `serve`; 0 keeps Python's 700"
    )
    ws_per_message_deflate: bool = Field(
        False, description="WebSocket compression: about 2x the memory per connection, when on"
    )
    message_batch_max: int = Field(
        200, ge=1, description="text messages written in one transaction at most (group commit)"
    )
    message_batch_window_ms: float = Field(
        0.0,
        ge=0,
        description="how long the writer waits for more messages before a batch; 0: no wait, "
        "a batch is whatever arrived while the previous one was being written",
    )

    # --- notifications (issue 18): Web Push, email digests, escalation ------------------------
    vapid_private_key: str = Field(
        "",
        description="Web Push VAPID private key (base64url, from `medtalk keys vapid`); empty: "
        "the key that command stored under data_dir (dev: made on first use)",
    )
    vapid_subject: str = Field(
        "", description="VAPID contact, mailto:ops@example.org or https://...; dev: a placeholder"
    )
    push_service_hosts: UrlList = Field(
        [
            "fcm.googleapis.com",
            "push.services.mozilla.com",
            "notify.windows.com",
            "push.apple.com",
        ],
        description="push services browsers may subscribe through (a host or its parent "
        "domain); pushes go nowhere else",
    )
    push_ttl_seconds: int = Field(
        3600, ge=0, description="how long a push service keeps a push for an offline device"
    )
    push_previews: bool = Field(
        False,
        description="pushes of a text message show its first 80 characters; off: only the "
        'sender\'s name and "new message" (a lock screen is not private)',
    )
    smtp_host: str = Field("", description="SMTP server of email digests and escalations")
    smtp_port: int = Field(587, description="SMTP port (587 STARTTLS, 465 TLS, 25 plain)")
    smtp_username: str = Field("", description="SMTP login; empty: no AUTH")
    smtp_password: str = Field("", description="SMTP password")
    smtp_tls: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="how the SMTP connection is protected"
    )
    mail_from: str = Field("", description="From: of medtalk's email, e.g. medtalk@example.org")
    email_digest_minutes: float = Field(
        15.0, gt=0, description="an email digest gathers what waited this long (one per window)"
    )
    escalation_after_minutes: Annotated[list[int], NoDecode, BeforeValidator(_comma_list)] = Field(
        [],
        description="a patient message the doctor has not read after each of these many "
        "minutes escalates to the on-call target once (e.g. 30,120); empty: no escalation",
    )
    escalation_clinic_hours: str = Field(
        "",
        description="escalate only within these hours, e.g. 08:00-17:30 (in "
        "escalation_time_zone); empty: at any hour",
    )
    escalation_time_zone: str = Field("Asia/Ho_Chi_Minh", description="zone of the clinic hours")
    escalation_webhook_url: str = Field("", description="on-call target: URL escalations POST to")
    escalation_email: str = Field("", description="on-call target: address escalations mail to")
    escalation_sweep_seconds: float = Field(
        60.0, gt=0, description="how often unanswered patient messages are looked for"
    )

    @model_validator(mode="after")
    def _notifications_are_configured(self) -> Settings:
        wants_email = "email" in self.notifier or self.escalation_email
        if wants_email and not (self.smtp_host and self.mail_from):
            raise ValueError("email notifications need MEDTALK_SMTP_HOST and MEDTALK_MAIL_FROM")
        if self.escalation_after_minutes and not (
            self.escalation_webhook_url or self.escalation_email
        ):
            raise ValueError(
                "escalation needs MEDTALK_ESCALATION_WEBHOOK_URL or MEDTALK_ESCALATION_EMAIL"
            )
        if self.escalation_clinic_hours and not _HOURS.fullmatch(self.escalation_clinic_hours):
            raise ValueError("MEDTALK_ESCALATION_CLINIC_HOURS takes HH:MM-HH:MM, e.g. 08:00-17:30")
        production_push = self.mode == "production" and "webpush" in self.notifier
        if production_push and not self.vapid_subject.startswith(("mailto:", "https://")):
            raise ValueError("production Web Push needs MEDTALK_VAPID_SUBJECT (mailto: or https:)")
        return self
