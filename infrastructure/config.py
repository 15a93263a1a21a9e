"""The one settings object, read from the environment.

Every knob of ovoz is here and in the README's table. In development, secrets that are
not given are generated once and kept in ``var/secrets.json`` so that tokens and data
keys survive restarts; in production a missing or weak secret stops start-up.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import phonenumbers

from domain.errors import InvalidPhoneNumberError
from domain.phone import normalise_mobile, region_of
from infrastructure.hashing import usable_cpus
from infrastructure.subtitles import CueLimits

PRODUCTION = "production"
_MIN_SECRET_BYTES = 32  # 256 bits: HS256 needs a key at least as long as its hash
_GENERATED_SECRETS = ("JWT_SECRET", "OTP_PEPPER", "PHONE_HMAC_KEY", "MASTER_KEY")
# uvicorn's default: a proxy on the same host is believed, nobody else can claim to be one
_LOOPBACK = ("127.0.0.1", "::1")


class ConfigError(Exception):
    """The configuration cannot be used; the message says what to change."""


@dataclass(frozen=True)
class OtpPolicy:
    """The rules for one-time codes (NIST SP 800-63B-4 and OWASP as the bar)."""

    code_ttl_seconds: int = 300
    max_failures: int = 5
    failure_window_seconds: int = 3600
    resend_cooldown_seconds: int = 60
    max_codes_per_hour: int = 5
    max_consecutive_failures: int = 30
    verify_floor_seconds: float = 0.25
    max_codes_per_number_per_hour: int = 20


@dataclass(frozen=True)
class WebhookSettings:
    """Webhook delivery (see infrastructure.webhook_dispatcher and webhook_urls)."""

    allowed_hosts: tuple[str, ...] = ()  # exempt from the SSRF rules
    timeout_seconds: float = 5.0
    retry_backoff: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800)
    retry_for_seconds: float = 86400.0
    dispatchers: int = 4
    in_flight_per_webhook: int = 2
    max_per_user: int = 10


@dataclass(frozen=True)
class SmsBudgets:
    """Hourly SMS budgets shared by every API process (see infrastructure.sms_budget);
    0 turns one off. ``per_client`` counts by IP address (IPv6 by /64), ``per_block`` by
    block of 10,000 numbers (the number less its last 4 digits), ``total`` everything."""

    per_client: int = 20
    per_block: int = 50
    total: int = 1000


@dataclass(frozen=True)
class EskizSettings:
    """Credentials of the Eskiz.uz SMS gateway."""

    email: str
    password: str
    sender: str = "4546"
    base_url: str = "https://notify.eskiz.uz/api"


@dataclass(frozen=True)
class Settings:
    """Everything ovoz needs to know about its environment."""

    env: str
    var_dir: Path
    database_url: str | None
    database_schema: str
    jwt_secret: bytes
    otp_pepper: bytes
    phone_hmac_key: bytes
    master_key: bytes
    previous_master_keys: tuple[bytes, ...] = ()
    jwt_ttl_seconds: int = 900  # the access token; sessions last longer (below)
    session_idle_seconds: int = 30 * 86400
    session_max_seconds: int = 90 * 86400
    session_refresh_grace_seconds: int = 30
    jwt_issuer: str = "ovoz"
    jwt_audience: str = "ovoz-api"
    sms_backend: str = "console"
    eskiz: EskizSettings | None = None
    otp: OtpPolicy = field(default_factory=OtpPolicy)
    sms_allowed_countries: frozenset[str] | None = frozenset({"UZ"})  # None: any
    sms_budgets: SmsBudgets = field(default_factory=SmsBudgets)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    argon2_max_concurrency: int = 1
    otp_test_numbers: Mapping[str, str] = field(default_factory=dict)
    admin_phone_numbers: frozenset[str] = frozenset()
    default_region: str = "UZ"
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 500 * 1024 * 1024
    max_audio_seconds: float = 4 * 3600.0
    quota_queued_audio_seconds: float = 4 * 3600.0
    quota_stored_bytes: int = 5 * 1024**3
    read_your_writes_timeout: float = 5.0
    log_level: str = "INFO"
    workers: int = 1
    allowed_origins: tuple[str, ...] = ()
    request_timeout: float = 10.0
    request_body_min_rate: float = 1024.0
    max_connections: int = 1000
    forwarded_allow_ips: tuple[str, ...] = _LOOPBACK
    job_lease_seconds: int = 30
    retry_backoff: tuple[float, ...] = (5.0, 30.0, 120.0)
    blob_root: Path | None = None
    web_root: Path | None = None  # None: web/dist of this checkout
    whisper_model: str = "base"
    whisper_models: Mapping[str, str] = field(default_factory=dict)
    whisper_device: str = "auto"
    whisper_compute_type: str | None = None
    whisper_threads: int | None = None
    whisper_beam_size: int = 5
    whisper_batched: str = "auto"
    whisper_models_root: Path | None = None
    whisper_allow_download: bool = False
    # An upload in a language the configured models are not known to handle
    # (infrastructure.languages) is accepted and flagged, or refused when this is set.
    refuse_unsupported_languages: bool = False
    whisper_check_steering: bool = True  # a steered window is decoded plain too, the surer kept
    whisper_level_speech: bool = True  # quiet speech raised, unheard speech decoded alone
    # "process": each worker's model runs in a child process that a cancel kills at once;
    # "thread": in the worker's own thread (a cancel waits for the decoding call to end).
    whisper_isolation: str = "process"
    # Speaker labels on transcripts, where the voice encoder is installed (speakers.py).
    speaker_labels: bool = True
    subtitles: CueLimits = field(default_factory=CueLimits)

    @property
    def is_production(self) -> bool:
        return self.env == PRODUCTION

    @property
    def blob_dir(self) -> Path:
        return self.blob_root or self.var_dir / "blobs"

    @property
    def whisper_models_dir(self) -> Path:
        return self.whisper_models_root or self.var_dir / "models"

    @property
    def sms_outbox(self) -> Path:
        return self.var_dir / "sms-outbox.jsonl"

    def with_listen(self, host: str | None = None, port: int | None = None) -> Settings:
        return replace(self, host=host or self.host, port=port or self.port)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (the process environment by default)."""
        e = dict(os.environ if environ is None else environ)
        env = e.get("ENV", "development").strip().lower()
        var_dir = Path(e.get("OVOZ_VAR_DIR", "var")).resolve()
        region = e.get("DEFAULT_PHONE_REGION", "UZ").upper()
        secret_values = _secrets(e, env, var_dir)
        settings = cls(
            env=env,
            var_dir=var_dir,
            database_url=e.get("DATABASE_URL") or None,
            database_schema=e.get("DATABASE_SCHEMA", "public"),
            previous_master_keys=tuple(
                k.encode() for k in _split(e.get("MASTER_KEY_PREVIOUS", ""))
            ),
            jwt_ttl_seconds=_int(e, "JWT_TTL_SECONDS", 900),
            session_idle_seconds=_int(e, "SESSION_IDLE_TIMEOUT_SECONDS", 30 * 86400),
            session_refresh_grace_seconds=_int(e, "SESSION_REFRESH_GRACE_SECONDS", 30),
            session_max_seconds=_int(e, "SESSION_MAX_LIFETIME_SECONDS", 90 * 86400),
            jwt_issuer=e.get("JWT_ISSUER", "ovoz"),
            jwt_audience=e.get("JWT_AUDIENCE", "ovoz-api"),
            sms_backend=e.get("SMS_BACKEND", "console").strip().lower(),
            eskiz=_eskiz(e),
            otp=OtpPolicy(
                code_ttl_seconds=_int(e, "OTP_TTL_SECONDS", 300),
                max_failures=_int(e, "OTP_MAX_FAILURES", 5),
                failure_window_seconds=_int(e, "OTP_FAILURE_WINDOW_SECONDS", 3600),
                resend_cooldown_seconds=_int(e, "OTP_RESEND_COOLDOWN_SECONDS", 60),
                max_codes_per_hour=_int(e, "OTP_MAX_CODES_PER_HOUR", 5),
                max_consecutive_failures=_int(e, "OTP_MAX_CONSECUTIVE_FAILURES", 30),
                max_codes_per_number_per_hour=_int(e, "OTP_MAX_CODES_PER_NUMBER_PER_HOUR", 20),
                verify_floor_seconds=_seconds_within(e, "OTP_VERIFY_FLOOR_SECONDS", 0.25, 10.0),
            ),
            sms_allowed_countries=_countries(e.get("SMS_ALLOWED_COUNTRIES", "")),
            sms_budgets=SmsBudgets(
                per_client=_limit(e, "SMS_MAX_PER_IP_PER_HOUR", 20),
                per_block=_limit(e, "SMS_MAX_PER_PREFIX_PER_HOUR", 50),
                total=_limit(e, "SMS_MAX_PER_HOUR", 1000),
            ),
            webhooks=_webhook_settings(e),
            argon2_max_concurrency=_int(e, "ARGON2_MAX_CONCURRENCY", _default_argon2_slots()),
            otp_test_numbers=_test_numbers(e.get("OTP_TEST_NUMBERS", ""), region),
            admin_phone_numbers=frozenset(
                _phone(p, region, "ADMIN_PHONE_NUMBERS")
                for p in _split(e.get("ADMIN_PHONE_NUMBERS", ""))
            ),
            default_region=region,
            host=e.get("HOST", "127.0.0.1"),
            port=_int(e, "PORT", 8000),
            max_upload_bytes=_int(e, "MAX_UPLOAD_BYTES", 500 * 1024 * 1024),
            max_audio_seconds=float(e.get("MAX_AUDIO_SECONDS", 4 * 3600)),
            quota_queued_audio_seconds=_positive_float(e, "QUOTA_QUEUED_AUDIO_SECONDS", 4 * 3600.0),
            quota_stored_bytes=_int(e, "QUOTA_STORED_BYTES", 5 * 1024**3),
            read_your_writes_timeout=float(e.get("READ_YOUR_WRITES_TIMEOUT", 5.0)),
            log_level=e.get("LOG_LEVEL", "INFO").upper(),
            workers=_int(e, "WORKERS", 1),
            allowed_origins=tuple(_split(e.get("ALLOWED_ORIGINS", ""))),
            request_timeout=_positive_float(e, "REQUEST_TIMEOUT", 10.0),
            request_body_min_rate=_positive_float(e, "REQUEST_BODY_MIN_RATE", 1024.0),
            max_connections=_int(e, "MAX_CONNECTIONS", 1000),
            forwarded_allow_ips=_proxies(e.get("FORWARDED_ALLOW_IPS", ",".join(_LOOPBACK))),
            job_lease_seconds=_int(e, "JOB_LEASE_SECONDS", 30),
            retry_backoff=_floats(e, "JOB_RETRY_BACKOFF_SECONDS", (5.0, 30.0, 120.0)),
            blob_root=Path(e["BLOB_DIR"]).resolve() if e.get("BLOB_DIR") else None,
            web_root=Path(e["WEB_DIR"]).resolve() if e.get("WEB_DIR") else None,
            whisper_model=e.get("WHISPER_MODEL", "").strip() or "base",
            whisper_models=_model_map(e.get("WHISPER_MODELS", "")),
            whisper_device=e.get("WHISPER_DEVICE", "auto").strip().lower() or "auto",
            whisper_compute_type=e.get("WHISPER_COMPUTE_TYPE", "").strip() or None,
            whisper_threads=_int(e, "WHISPER_THREADS", 0) or None,
            whisper_beam_size=_int(e, "WHISPER_BEAM_SIZE", 5),
            whisper_batched=e.get("WHISPER_BATCHED", "auto").strip().lower() or "auto",
            whisper_models_root=(
                Path(e["WHISPER_MODELS_DIR"]).resolve() if e.get("WHISPER_MODELS_DIR") else None
            ),
            whisper_allow_download=e.get("WHISPER_ALLOW_DOWNLOAD", "").strip().lower()
            in {"1", "true", "yes", "on"},
            refuse_unsupported_languages=e.get("REFUSE_UNSUPPORTED_LANGUAGES", "").strip().lower()
            in {"1", "true", "yes", "on"},
            whisper_check_steering=e.get("WHISPER_CHECK_STEERING", "on").strip().lower()
            not in {"0", "false", "no", "off"},
            whisper_level_speech=e.get("WHISPER_LEVEL_SPEECH", "on").strip().lower()
            not in {"0", "false", "no", "off"},
            whisper_isolation=e.get("WHISPER_ISOLATION", "process").strip().lower() or "process",
            speaker_labels=e.get("SPEAKER_LABELS", "on").strip().lower()
            not in {"0", "false", "no", "off"},
            subtitles=CueLimits(
                max_line_chars=_int(e, "SUBTITLE_MAX_LINE_CHARS", 42),
                max_lines=_int(e, "SUBTITLE_MAX_LINES", 2),
                max_cue_seconds=_positive_float(e, "SUBTITLE_MAX_CUE_SECONDS", 7.0),
            ),
            **secret_values,
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse configurations that are unsafe or cannot work."""
        if self.sms_backend not in {"console", "eskiz"}:
            raise ConfigError(f"SMS_BACKEND must be 'console' or 'eskiz', not {self.sms_backend!r}")
        if self.sms_backend == "eskiz" and self.eskiz is None:
            raise ConfigError("SMS_BACKEND=eskiz needs ESKIZ_EMAIL and ESKIZ_PASSWORD")
        if self.whisper_device not in {"auto", "cpu", "cuda"}:
            raise ConfigError(
                f"WHISPER_DEVICE must be auto, cpu or cuda, not {self.whisper_device!r}"
            )
        if self.whisper_batched not in {"auto", "on", "off"}:
            raise ConfigError(
                f"WHISPER_BATCHED must be auto, on or off, not {self.whisper_batched!r}"
            )
        if self.whisper_isolation not in {"process", "thread"}:
            raise ConfigError(
                f"WHISPER_ISOLATION must be process or thread, not {self.whisper_isolation!r}"
            )
        self._check_quotas()
        self._check_admins_reachable()
        if self.otp.max_consecutive_failures <= self.otp.max_failures:
            # Else one client's failures alone would lock the number for everyone.
            raise ConfigError(
                f"OTP_MAX_CONSECUTIVE_FAILURES ({self.otp.max_consecutive_failures}) must be "
                f"more than OTP_MAX_FAILURES ({self.otp.max_failures})"
            )
        if self.otp.max_codes_per_number_per_hour < self.otp.max_codes_per_hour:
            # Else one client's own budget would already spend the whole number's.
            raise ConfigError(
                f"OTP_MAX_CODES_PER_NUMBER_PER_HOUR ({self.otp.max_codes_per_number_per_hour})"
                f" must be at least OTP_MAX_CODES_PER_HOUR ({self.otp.max_codes_per_hour})"
            )
        if not self.is_production:
            return
        if self.otp_test_numbers:
            raise ConfigError("OTP_TEST_NUMBERS must be empty in production")
        if self.sms_backend == "console":
            raise ConfigError("SMS_BACKEND=console only logs codes; choose a real gateway")

    def _check_admins_reachable(self) -> None:
        # An admin whose codes may not be texted could never sign in.
        allowed = self.sms_allowed_countries
        if allowed is None:
            return
        for phone in sorted(self.admin_phone_numbers):
            if region_of(phone) not in allowed:
                raise ConfigError(
                    f"ADMIN_PHONE_NUMBERS: {phone} is in {region_of(phone)}, which "
                    f"SMS_ALLOWED_COUNTRIES ({','.join(sorted(allowed))}) does not allow"
                )

    def _check_quotas(self) -> None:
        # A quota below the per-file limit would refuse, forever, a file that every other
        # check accepts: even a user with nothing stored could never upload it.
        if self.quota_queued_audio_seconds < self.max_audio_seconds:
            raise ConfigError(
                f"QUOTA_QUEUED_AUDIO_SECONDS ({self.quota_queued_audio_seconds:g}) must be at "
                f"least MAX_AUDIO_SECONDS ({self.max_audio_seconds:g})"
            )
        if self.quota_stored_bytes < self.max_upload_bytes:
            raise ConfigError(
                f"QUOTA_STORED_BYTES ({self.quota_stored_bytes}) must be at least "
                f"MAX_UPLOAD_BYTES ({self.max_upload_bytes})"
            )


def _secrets(e: Mapping[str, str], env: str, var_dir: Path) -> dict[str, bytes]:
    given = {name: e.get(name, "") for name in _GENERATED_SECRETS}
    if env == PRODUCTION:
        missing = [n for n, v in given.items() if len(v.encode()) < _MIN_SECRET_BYTES]
        if missing:
            raise ConfigError(
                f"In production {', '.join(missing)} must be set to random values of at "
                f"least {_MIN_SECRET_BYTES} bytes (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`)"
            )
        stored: dict[str, str] = {}
    else:
        stored = _stored_dev_secrets(var_dir)
    values = {n: (given[n] or stored[n]) for n in _GENERATED_SECRETS}
    for name, value in values.items():
        if len(value.encode()) < _MIN_SECRET_BYTES:
            raise ConfigError(f"{name} is too short: use at least {_MIN_SECRET_BYTES} bytes")
    shared = [n for n in _GENERATED_SECRETS if list(values.values()).count(values[n]) > 1]
    if shared:
        # One leaked value must not open two doors (forge tokens *and* search code hashes).
        raise ConfigError(f"{', '.join(shared)} must each have a value of its own")
    return {name.lower(): value.encode() for name, value in values.items()}


def _stored_dev_secrets(var_dir: Path) -> dict[str, str]:
    """Load development secrets, generating (once) any that are missing."""
    path = var_dir / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [n for n in _GENERATED_SECRETS if n not in stored]
    if missing:
        stored.update(
            {n: base64.urlsafe_b64encode(secrets.token_bytes(48)).decode() for n in missing}
        )
        var_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(stored, f, indent=2)
        os.replace(tmp, path)
    return stored


def _eskiz(e: Mapping[str, str]) -> EskizSettings | None:
    if not (e.get("ESKIZ_EMAIL") and e.get("ESKIZ_PASSWORD")):
        return None
    return EskizSettings(
        email=e["ESKIZ_EMAIL"],
        password=e["ESKIZ_PASSWORD"],
        sender=e.get("ESKIZ_FROM", "4546"),
        base_url=e.get("ESKIZ_BASE_URL", "https://notify.eskiz.uz/api"),
    )


def _test_numbers(raw: str, region: str) -> dict[str, str]:
    """Parse ``+998901234567:123456,+998...:654321``."""
    numbers: dict[str, str] = {}
    for item in _split(raw):
        phone, sep, code = (part.strip() for part in item.partition(":"))
        if not sep or not (len(code) == 6 and code.isascii() and code.isdigit()):
            raise ConfigError(
                f"OTP_TEST_NUMBERS entries look like +998901234567:123456, not {item!r}"
            )
        numbers[_phone(phone, region, "OTP_TEST_NUMBERS")] = code
    return numbers


def _phone(raw: str, region: str, setting: str) -> str:
    try:
        return normalise_mobile(raw, region)
    except InvalidPhoneNumberError:
        raise ConfigError(f"{setting}: {raw!r} is not a valid mobile number") from None


def _model_map(raw: str) -> dict[str, str]:
    """Parse ``WHISPER_MODELS``: a JSON object language → model spec, ``"*"`` the default."""
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in parsed.items()
    ):
        raise ConfigError(
            "WHISPER_MODELS must be a JSON object of language to model, e.g. "
            '\'{"uz": "/models/uz-ct2", "*": "base"}\''
        )
    return {k.strip().lower(): v.strip() for k, v in parsed.items()}


def _proxies(raw: str) -> tuple[str, ...]:
    """``FORWARDED_ALLOW_IPS``: addresses and networks (or ``*``) of trusted proxies.
    uvicorn would take a misspelt entry as a literal that matches no client, silently."""
    entries = tuple(_split(raw))
    for entry in entries:
        if entry == "*":
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(
                f"FORWARDED_ALLOW_IPS entries are IP addresses, networks (10.0.0.0/8) or *, "
                f"not {entry!r}"
            ) from None
    return entries


def _countries(raw: str) -> frozenset[str] | None:
    """``SMS_ALLOWED_COUNTRIES``: ISO 3166 alpha-2 codes (``UZ`` when unset or empty), or
    ``*`` alone for any country, satellite and international ranges included."""
    entries = [part.upper() for part in _split(raw)] or ["UZ"]
    if entries == ["*"]:
        return None
    unknown = [c for c in entries if c not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ConfigError(
            "SMS_ALLOWED_COUNTRIES is comma-separated ISO 3166 alpha-2 codes (UZ,KZ) or * "
            f"alone for any, not {', '.join(repr(c) for c in unknown)}"
        )
    return frozenset(entries)


def _webhook_settings(e: Mapping[str, str]) -> WebhookSettings:
    d = WebhookSettings()
    return WebhookSettings(
        allowed_hosts=tuple(_split(e.get("WEBHOOK_ALLOWED_HOSTS", ""))),
        timeout_seconds=_positive_float(e, "WEBHOOK_TIMEOUT_SECONDS", d.timeout_seconds),
        retry_backoff=_floats(e, "WEBHOOK_RETRY_BACKOFF_SECONDS", d.retry_backoff),
        retry_for_seconds=_positive_float(e, "WEBHOOK_RETRY_FOR_SECONDS", d.retry_for_seconds),
        dispatchers=_int(e, "WEBHOOK_DISPATCHERS", d.dispatchers),
        in_flight_per_webhook=_int(e, "WEBHOOK_IN_FLIGHT_PER_WEBHOOK", d.in_flight_per_webhook),
        max_per_user=_int(e, "WEBHOOK_MAX_PER_USER", d.max_per_user),
    )


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _floats(e: Mapping[str, str], name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    raw = e.get(name, "")
    if not raw.strip():
        return default
    try:
        values = tuple(float(part) for part in _split(raw))
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated seconds, not {raw!r}") from None
    if not values or min(values) < 0:
        raise ConfigError(f"{name} must be comma-separated seconds, not {raw!r}")
    return values


def _positive_float(e: Mapping[str, str], name: str, default: float) -> float:
    raw = e.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive number, not {raw!r}")
    return value


def _seconds_within(e: Mapping[str, str], name: str, default: float, most: float) -> float:
    raw = e.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= most:  # NaN fails this too
        raise ConfigError(f"{name} must be between 0 and {most:g} seconds, not {raw!r}")
    return value


def _default_argon2_slots() -> int:
    """One argon2 computation per usable CPU but one: that one is left to the event loop
    and PostgreSQL, so that a sign-in flood slows reads down instead of starving them."""
    return max(1, usable_cpus() - 1)


def _limit(e: Mapping[str, str], name: str, default: int) -> int:
    """A count that 0 turns off."""
    raw = e.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer (0: off), not {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must be 0 (off) or more, not {value}")
    return value


def _int(e: Mapping[str, str], name: str, default: int) -> int:
    raw = e.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, not {value}")
    return value
